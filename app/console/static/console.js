// Keeps the current section visible in the navigation bar, which scrolls on a phone.
document.addEventListener("DOMContentLoaded", () => {
  const current = document.querySelector(".nav [aria-current=page]");
  if (current) current.scrollIntoView({ block: "nearest", inline: "center" });
});
