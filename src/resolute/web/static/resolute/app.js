// Small enhancements that work without it: a language menu that applies on change.
document.addEventListener("change", (e) => {
  const el = e.target;
  if (el.matches && el.matches("select[data-autosubmit]")) el.form.requestSubmit();
});
