// Every page links to the same page in the other edition: English at the book's root, Chinese
// under zh/ (make book builds both from the same sources).
document.addEventListener("DOMContentLoaded", () => {
  const html = document.documentElement;
  const root = new URL(html.dataset.content_root || "./", window.location.href);
  const chinese = (html.lang || "").toLowerCase().startsWith("zh");
  const page = window.location.href.slice(root.href.length);
  const link = document.createElement("a");
  link.href = new URL((chinese ? "../" : "zh/") + page, root).href;
  link.className = "btn btn-sm language-switch";
  link.lang = chinese ? "en" : "zh-CN";
  link.textContent = chinese ? "English" : "中文";
  link.title = chinese ? "Read this page in English" : "阅读本页的中文版";
  const buttons = document.querySelector(".article-header-buttons");
  if (buttons) buttons.prepend(link);
  else document.body.prepend(link);
});
