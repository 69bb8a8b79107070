// Copy buttons: <button data-copy-target="ID" hidden> copies the text of the element #ID, and
// says so in the .copy-status beside it. Buttons start hidden: without this script they
// would do nothing, and the text can still be selected by hand.
document.querySelectorAll("[data-copy-target]").forEach((button) => {
  const source = document.getElementById(button.dataset.copyTarget);
  const status = button.parentElement.querySelector(".copy-status");
  const say = (text) => { if (status) status.textContent = text; };

  const select = () => {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  };

  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = source.textContent.trim();
    try {
      // The Clipboard API exists only in a secure context (https, or localhost).
      await navigator.clipboard.writeText(text);
      say("Copied");
    } catch {
      // Plain http or no permission: select the text and try the older copy command; if the
      // browser refuses that too, the selection stays for Ctrl+C (or a long press).
      select();
      let copied = false;
      try { copied = document.execCommand("copy"); } catch { copied = false; }
      say(copied ? "Copied" : "Selected: press Ctrl+C to copy");
    }
  });
});
