/*
 * Groundline support widget. Plain JavaScript, no build step, no dependencies.
 *
 *   <script src="https://bot.example.com/widget.js" data-key="glw_..." defer
 *           data-title="Lumora Help" data-color="#0f766e" data-locale="en-US"
 *           data-product="lumora-hub"></script>
 *
 * Options (all but data-key optional):
 *   data-key       a publishable widget key, tied to the page's origin
 *   data-title     panel title
 *   data-color     accent colour (any CSS colour)
 *   data-locale    help-center locale such as en-US or de-DE: filters the articles and picks
 *                  the widget's language (English or German)
 *   data-product   only answer from this product's articles
 *   data-greeting  first message of a new conversation
 *   data-position  "right" (default) or "left"
 *   data-api       the Groundline server (default: where this script was loaded from)
 *   data-customer-id  your id of the signed-in customer: stored only as a hash, so that an
 *                  admin can erase this customer's conversations; never used for answers
 *
 * The widget lives in a shadow root so the host page's styles cannot break it and its
 * styles cannot leak out. Server text is only ever inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.dataset.key) {
    if (window.console) console.warn("Groundline widget: the script tag needs data-key");
    return;
  }
  var ds = script.dataset;
  var KEY = ds.key;
  var API = (ds.api || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var LOCALE = ds.locale || "";
  var LANG = (LOCALE || document.documentElement.lang || "en").slice(0, 2).toLowerCase();

  var STRINGS = {
    en: {
      title: "Help", open: "Open help chat", close: "Close help chat",
      greeting: "Hi! Ask me anything about our products. I answer from our help center.",
      input: "Your question", placeholder: "Type your question\u2026", send: "Send",
      restart: "Start a new conversation", thinking: "Looking in the help center\u2026",
      sources: "Sources", sourceN: "Source {n}: {title}", suggestions: "These articles may help:",
      maybe: "This may help (from our help center, not a confirmed answer):",
      helpful: "Helpful", notHelpful: "Not helpful", rate: "Was this answer helpful?",
      why: "What went wrong? (optional)", comment: "Anything else? (optional)",
      sendFeedback: "Send feedback", thanks: "Thanks for your feedback!",
      reasons: {incorrect: "Incorrect", outdated: "Outdated", unclear: "Hard to follow",
                not_answered: "Didn't answer my question"},
      handoff: "Talk to a person",
      handoffDone: "Thanks, we've passed this conversation to our support team. A person " +
                   "will get back to you.",
      handoffFailed: "Sorry, we couldn't reach our support team. Please try again later.",
      error: "Sorry, something went wrong. Please try again.",
      slow: "You're sending messages too quickly. Please wait {s} seconds.",
      answer: "Answer: ", you: "You"
    },
    de: {
      title: "Hilfe", open: "Hilfe-Chat \u00f6ffnen", close: "Hilfe-Chat schlie\u00dfen",
      greeting: "Hallo! Fragen Sie mich zu unseren Produkten. Ich antworte aus unserem " +
                "Hilfe-Center.",
      input: "Ihre Frage", placeholder: "Ihre Frage\u2026", send: "Senden",
      restart: "Neues Gespr\u00e4ch beginnen", thinking: "Suche im Hilfe-Center\u2026",
      sources: "Quellen", sourceN: "Quelle {n}: {title}",
      suggestions: "Diese Artikel k\u00f6nnten helfen:",
      maybe: "Vielleicht hilft das (aus unserem Hilfe-Center, keine best\u00e4tigte Antwort):",
      helpful: "Hilfreich", notHelpful: "Nicht hilfreich", rate: "War diese Antwort hilfreich?",
      why: "Was war falsch? (optional)", comment: "Noch etwas? (optional)",
      sendFeedback: "Feedback senden", thanks: "Danke f\u00fcr Ihr Feedback!",
      reasons: {incorrect: "Falsch", outdated: "Veraltet", unclear: "Schwer verst\u00e4ndlich",
                not_answered: "Frage nicht beantwortet"},
      handoff: "Mit einer Person sprechen",
      handoffDone: "Danke, wir haben das Gespr\u00e4ch an unser Support-Team weitergegeben. " +
                   "Jemand meldet sich bei Ihnen.",
      handoffFailed: "Das Support-Team ist gerade nicht erreichbar. Bitte sp\u00e4ter erneut " +
                     "versuchen.",
      error: "Da ist etwas schiefgegangen. Bitte erneut versuchen.",
      slow: "Sie senden zu schnell. Bitte warten Sie {s} Sekunden.",
      answer: "Antwort: ", you: "Sie"
    }
  };
  var T = STRINGS[LANG] || STRINGS.en;
  var PATHS = {  // SVG icons, so that no emoji font is needed
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    up: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06" +
        "L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22" +
        "l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
    down: "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2" +
          "h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41" +
          "V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z"
  };
  var TITLE = ds.title || T.title;
  var STORE = "groundline:" + KEY.slice(0, 14) + ":";

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }
  function store(name, value) {
    try {
      if (value === undefined) return localStorage.getItem(STORE + name);
      if (value === null) localStorage.removeItem(STORE + name);
      else localStorage.setItem(STORE + name, value);
    } catch (e) { /* storage blocked: the conversation just won't survive a reload */ }
    return null;
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
      else if (value === true) node.setAttribute(name, "");
      else if (value !== false && value != null) node.setAttribute(name, value);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function safeUrl(url) {
    return /^https?:\/\//i.test(url || "") ? url : null;
  }
  function link(url, text, attrs) {
    // Sources without a web page (resolved tickets) are named, not linked.
    if (!safeUrl(url)) return el("span", Object.assign({text: text}, attrs || {}));
    return el("a", Object.assign({href: url, target: "_blank", rel: "noopener noreferrer",
                                  text: text}, attrs || {}));
  }

  // ---------------------------------------------------------------- the shell
  var host = el("div", {"data-groundline": ""});
  var root = host.attachShadow({mode: "open"});
  var css = el("link", {rel: "stylesheet", href: API + "/widget.css"});
  var frame = el("div", {class: "gl-root" + (ds.position === "left" ? " gl-left" : ""),
                         style: "visibility:hidden"});
  // Hidden until styled; nothing can take focus before that, so opening waits for it too.
  var styled = new Promise(function (resolve) {
    css.addEventListener("load", resolve);
    css.addEventListener("error", resolve);
  }).then(function () { frame.style.visibility = ""; });
  applyColour(frame, ds.color);

  var launcher = el("button", {type: "button", class: "gl-launcher", "aria-expanded": "false",
                               "aria-controls": "gl-panel", "aria-label": T.open,
                               onclick: function () { toggle(); }});
  launcher.appendChild(icon(PATHS.chat));
  var input = el("textarea", {id: "gl-input", rows: "1", maxlength: "2000",
                              placeholder: T.placeholder, autocomplete: "off"});
  var sendButton = el("button", {type: "submit", class: "gl-send", text: T.send});
  var list = el("ol", {class: "gl-messages", "aria-label": TITLE, tabindex: "0"});
  var status = el("div", {class: "gl-sr", role: "status", "aria-live": "polite"});
  var handoffLink = el("button", {type: "button", class: "gl-handoff-link", text: T.handoff,
                                  hidden: true,
                                  onclick: function (e) { handoff(e.target, "customer_request"); }});
  var form = el("form", {class: "gl-form", onsubmit: onSubmit}, [
    el("label", {for: "gl-input", class: "gl-sr", text: T.input}), input, sendButton]);
  var panel = el("section", {id: "gl-panel", class: "gl-panel", role: "dialog",
                             "aria-labelledby": "gl-title", hidden: true}, [
    el("header", {class: "gl-header"}, [
      el("h2", {id: "gl-title", text: TITLE}),
      el("button", {type: "button", class: "gl-icon-button", "aria-label": T.restart,
                    title: T.restart, text: "\u21bb", onclick: restart}),
      el("button", {type: "button", class: "gl-icon-button", "aria-label": T.close,
                    title: T.close, text: "\u00d7", onclick: function () { toggle(false); }})
    ]),
    list, status, form, el("div", {class: "gl-footer"}, [handoffLink])
  ]);
  frame.appendChild(panel);
  frame.appendChild(launcher);
  root.appendChild(css);
  root.appendChild(frame);

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : onSubmit(e);
    }
  });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.stopPropagation(); toggle(false); }
  });

  function icon(d) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  function applyColour(node, colour) {
    if (!colour || !(window.CSS && CSS.supports("color", colour))) return;
    node.style.setProperty("--gl-accent", colour);
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(colour);
    if (m) {
      var hex = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
      var rgb = [0, 2, 4].map(function (i) { return parseInt(hex.substr(i, 2), 16) / 255; });
      var lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
      node.style.setProperty("--gl-on-accent", lum > 0.6 ? "#111" : "#fff");
    }
  }

  function toggle(open) {
    var show = open === undefined ? panel.hidden : open;
    panel.hidden = !show;
    launcher.setAttribute("aria-expanded", String(show));
    launcher.setAttribute("aria-label", show ? T.close : T.open);
    frame.classList.toggle("gl-open", show);
    try { sessionStorage.setItem(STORE + "open", show ? "1" : ""); } catch (e) { /* ignore */ }
    if (show) {
      if (!list.childNodes.length) greet();
      list.scrollTop = list.scrollHeight;
      input.focus();
    } else {
      launcher.focus();
    }
  }

  // ---------------------------------------------------------------- HTTP
  function headers(extra) {
    return Object.assign({"X-Widget-Key": KEY, "Content-Type": "application/json"}, extra);
  }
  function request(method, path, body, extra) {
    return fetch(API + path, {method: method, headers: headers(extra), mode: "cors",
                              credentials: "omit", referrerPolicy: "origin",
                              body: body ? JSON.stringify(body) : undefined});
  }
  function failure(response) {
    if (response && response.status === 429) {
      return fmt(T.slow, {s: response.headers.get("Retry-After") || "60"});
    }
    return T.error;
  }

  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        buffer += decoder.decode(chunk.value || new Uint8Array(), {stream: !chunk.done});
        var blocks = buffer.split("\n\n");
        buffer = chunk.done ? "" : blocks.pop();
        blocks.forEach(function (block) {
          var kind = "message", data = "";
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event: ") === 0) kind = line.slice(7);
            else if (line.indexOf("data: ") === 0) data += line.slice(6);
          });
          if (data) onEvent(kind, JSON.parse(data));
        });
        return chunk.done ? null : pump();
      });
    }
    return pump();
  }

  // ---------------------------------------------------------------- rendering
  function addMessage(role, extraClass) {
    var item = el("li", {class: "gl-msg gl-" + role + (extraClass ? " " + extraClass : "")});
    var bubble = el("div", {class: "gl-bubble"});
    if (role === "user") bubble.appendChild(el("span", {class: "gl-sr", text: T.you + ": "}));
    item.appendChild(bubble);
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
    return bubble;
  }

  function greet() {
    addMessage("bot", "gl-greeting").appendChild(el("p", {class: "gl-text",
                                                          text: ds.greeting || T.greeting}));
  }

  function markedLine(node, text, byN) {
    var last = 0;
    text.replace(/\[(\d+)\]/g, function (marker, n, at) {
      node.appendChild(document.createTextNode(text.slice(last, at)));
      var c = byN[n];
      node.appendChild(c ? link(c.url, "[" + n + "]", {
        class: "gl-cite", "aria-label": fmt(T.sourceN, {n: n, title: c.title})})
        : document.createTextNode(marker));
      last = at + marker.length;
      return marker;
    });
    node.appendChild(document.createTextNode(text.slice(last)));
    return node;
  }

  // Prose as paragraphs; "1. ..." and "- ..." lines as numbered and bulleted lists.
  function textWithMarkers(text, citations) {
    var byN = {};
    (citations || []).forEach(function (c) { byN[c.n] = c; });
    var box = el("div", {class: "gl-text"});
    var list = null, kind = "";
    text.split("\n").forEach(function (line) {
      var m = /^\s*(?:(\d+)[.)]|[-*])\s+(.*)$/.exec(line);
      if (!m) {
        list = null;
        if (line.trim()) box.appendChild(markedLine(el("p", {}), line, byN));
        return;
      }
      var want = m[1] ? "ol" : "ul";
      if (!list || kind !== want) {
        list = el(want, m[1] && m[1] !== "1" ? {start: m[1]} : {});
        kind = want;
        box.appendChild(list);
      }
      list.appendChild(markedLine(el("li", {}), m[2], byN));
    });
    return box;
  }

  function renderAnswer(bubble, data) {
    bubble.textContent = "";
    var item = bubble.parentNode;
    if (data.id || data.message_id) item.setAttribute("data-message-id", data.id || data.message_id);
    if (data.fallback) {
      renderFallback(bubble, data.fallback);
    } else {
      bubble.appendChild(textWithMarkers(data.answer || data.text || "", data.citations));
      if (data.citations && data.citations.length) {
        var sorted = data.citations.slice().sort(function (a, b) { return a.n - b.n; });
        bubble.appendChild(el("div", {class: "gl-sources"}, [
          el("h3", {text: T.sources}),
          el("ol", {}, sorted.map(function (c) {
            return el("li", {value: String(c.n)}, [link(c.url, c.title)]);
          }))]));
      }
    }
    var id = item.getAttribute("data-message-id");
    if (id) bubble.appendChild(feedbackControls(id));
  }

  function renderFallback(bubble, fallback) {
    bubble.parentNode.classList.add("gl-fallback");
    bubble.appendChild(el("p", {class: "gl-text", text: fallback.message}));
    var rest = (fallback.suggestions || []).slice();
    if (rest.length && rest[0].snippet) {
      var best = rest.shift();
      bubble.appendChild(el("div", {class: "gl-maybe"}, [
        el("p", {text: T.maybe}),
        el("blockquote", {text: best.snippet}),
        el("p", {}, [link(best.url, best.title)])]));
    }
    if (rest.length) {
      bubble.appendChild(el("div", {class: "gl-suggestions"}, [
        el("p", {text: T.suggestions}),
        el("ul", {}, rest.map(function (s) {
          return el("li", {}, [link(s.url, s.title)]);
        }))]));
    }
    bubble.appendChild(el("button", {type: "button", class: "gl-handoff", text: T.handoff,
                                     onclick: function (e) {
                                       handoff(e.target, "missing_knowledge"); }}));
  }

  function announce(data) {
    var text = data.fallback ? data.fallback.message : (data.answer || "");
    status.textContent = T.answer + text.replace(/\s*\[\d+\]/g, "");
  }

  // ---------------------------------------------------------------- feedback
  function feedbackControls(messageId) {
    var given = store("fb:" + messageId);
    var group = el("div", {class: "gl-feedback", role: "group", "aria-label": T.rate});
    var up = el("button", {type: "button", class: "gl-thumb", "aria-label": T.helpful,
                           title: T.helpful, "aria-pressed": String(given === "up")},
                [icon(PATHS.up)]);
    var down = el("button", {type: "button", class: "gl-thumb", "aria-label": T.notHelpful,
                             title: T.notHelpful, "aria-pressed": String(given === "down")},
                  [icon(PATHS.down)]);
    var thanks = el("span", {class: "gl-thanks", text: T.thanks, hidden: !given});
    var reasons = reasonForm(function (reason, comment) {
      send("down", reason, comment);
    });
    up.addEventListener("click", function () { send("up"); });
    down.addEventListener("click", function () {
      down.setAttribute("aria-pressed", "true");
      up.setAttribute("aria-pressed", "false");
      reasons.hidden = false;
      reasons.querySelector("input").focus();
    });
    function send(rating, reason, comment) {
      request("POST", "/v1/feedback", {message_id: messageId, rating: rating,
                                       reason: reason || null, comment: comment || null})
        .then(function (r) {
          if (!r.ok) throw r;
          store("fb:" + messageId, rating);
          up.setAttribute("aria-pressed", String(rating === "up"));
          down.setAttribute("aria-pressed", String(rating === "down"));
          reasons.hidden = true;
          thanks.hidden = false;
          status.textContent = T.thanks;
        })
        .catch(function (r) { status.textContent = failure(r); });
    }
    group.appendChild(up);
    group.appendChild(down);
    group.appendChild(thanks);
    group.appendChild(reasons);
    return group;
  }

  function reasonForm(onSend) {
    var name = "gl-reason-" + Math.random().toString(36).slice(2);
    var options = Object.keys(T.reasons).map(function (value) {
      return el("label", {class: "gl-reason"}, [
        el("input", {type: "radio", name: name, value: value}), " " + T.reasons[value]]);
    });
    var comment = el("input", {type: "text", maxlength: "500", class: "gl-comment",
                               "aria-label": T.comment, placeholder: T.comment});
    var box = el("form", {class: "gl-reasons", hidden: true}, [
      el("fieldset", {}, [el("legend", {text: T.why})].concat(options)), comment,
      el("button", {type: "submit", class: "gl-send-feedback", text: T.sendFeedback})]);
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      var checked = box.querySelector("input[type=radio]:checked");
      onSend(checked ? checked.value : null, comment.value.trim());
    });
    return box;
  }

  // ---------------------------------------------------------------- handoff
  function handoff(button, reason) {
    var conversation = store("conversation");
    if (!conversation) return;
    button.disabled = true;
    request("POST", "/v1/handoff", {conversation_id: conversation, reason: reason})
      .then(function (r) {
        if (!r.ok) throw r;
        store("handoff", conversation);
        note(T.handoffDone);
      })
      .catch(function (r) { button.disabled = false; note(failure(r) === T.error ?
                                                          T.handoffFailed : failure(r)); });
  }

  function note(text, quiet) {
    addMessage("note").appendChild(el("p", {class: "gl-text", text: text}));
    if (!quiet) status.textContent = text;
  }

  // ---------------------------------------------------------------- chatting
  function onSubmit(e) {
    e.preventDefault();
    var message = input.value.trim();
    if (!message || sendButton.disabled) return;
    input.value = "";
    addMessage("user").appendChild(el("p", {class: "gl-text", text: message}));
    ask(message, true);
  }

  function ask(message, retry) {
    var bubble = addMessage("bot", "gl-pending");
    var typing = el("p", {class: "gl-typing", text: T.thinking});
    bubble.appendChild(typing);
    status.textContent = T.thinking;
    sendButton.disabled = true;
    list.setAttribute("aria-busy", "true");
    var body = {message: message, conversation_id: store("conversation") || null};
    var filters = {};
    if (ds.product) filters.product = ds.product;
    if (LOCALE.indexOf("-") > 0) filters.locale = LOCALE;
    if (Object.keys(filters).length) body.filters = filters;
    var customer = {};
    if (LOCALE) customer.locale = LOCALE;
    if (ds.customerId) customer.id = ds.customerId;
    if (Object.keys(customer).length) body.customer = customer;
    var text = "", citations = [], finished = false, redirected = false;
    request("POST", "/v1/chat/stream", body, {Accept: "text/event-stream"})
      .then(function (r) {
        if (r.status === 404 && retry && body.conversation_id) {
          store("conversation", null);  // forgotten by the server: start over
          redirected = true;
          bubble.parentNode.remove();
          sendButton.disabled = false;
          ask(message, false);
          return null;
        }
        if (!r.ok) throw r;
        return readEvents(r, function (kind, data) {
          if (kind === "delta") {
            text += data.text;
            bubble.textContent = "";
            bubble.appendChild(textWithMarkers(text, citations));
          } else if (kind === "citations") {
            citations = data;
          } else if (kind === "done") {
            finished = true;
            store("conversation", data.conversation_id);
            handoffLink.hidden = false;
            renderAnswer(bubble, data);
            announce(data);
          } else if (kind === "error") {
            throw new Error(data.message);
          }
        });
      })
      .then(function () {
        if (!finished && !redirected) throw new Error("stream ended early");
      })
      .catch(function (r) {
        if (finished || redirected) return;
        bubble.textContent = "";
        bubble.appendChild(el("p", {class: "gl-text gl-error", text: failure(r)}));
        status.textContent = failure(r);
      })
      .then(function () {
        if (redirected) return;
        bubble.parentNode.classList.remove("gl-pending");
        sendButton.disabled = false;
        list.removeAttribute("aria-busy");
        list.scrollTop = list.scrollHeight;
      });
  }

  function restore() {
    var conversation = store("conversation");
    if (!conversation) return Promise.resolve();
    return request("GET", "/v1/conversations/" + encodeURIComponent(conversation))
      .then(function (r) {
        if (r.status === 404 || r.status === 403) { store("conversation", null); return; }
        if (!r.ok) return;
        return r.json().then(function (data) {
          list.textContent = "";
          data.messages.forEach(function (m) {
            if (m.role === "user") {
              addMessage("user").appendChild(el("p", {class: "gl-text", text: m.text}));
            } else {
              renderAnswer(addMessage("bot"), m);
            }
          });
          handoffLink.hidden = !data.messages.length;
          if (store("handoff") === conversation) note(T.handoffDone, true);
        });
      })
      .catch(function () { /* offline: start empty, the id is kept for later */ });
  }

  function restart() {
    store("conversation", null);
    store("handoff", null);
    list.textContent = "";
    handoffLink.hidden = true;
    greet();
    input.focus();
  }

  function mount() {
    document.body.appendChild(host);
    Promise.all([restore(), styled]).then(function () {
      var wasOpen = false;
      try { wasOpen = sessionStorage.getItem(STORE + "open") === "1"; } catch (e) { /* */ }
      if (wasOpen) toggle(true);
    });
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
