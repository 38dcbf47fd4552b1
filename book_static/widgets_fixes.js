// Two fixes for the static (kernel-free) widgets of this book, loaded between require.js
// and the widgets' html-manager (see nb_ipywidgets_js in _config.yml).
//
// 1. The html-manager (1.0.6) locates its icon fonts relative to the AMD module id it
//    loads, which require.js resolves against the *page* URL: every widget page asked for
//    chapters/@jupyter-widgets/html-manager/dist/*.woff2 and got 404. Map the id to the CDN
//    copy of the same package, which the page loads anyway.
require.config({
  paths: {
    "@jupyter-widgets/html-manager/dist":
      "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.6/dist",
  },
});

// 2. It typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the book uses
//    MathJax 3, which has no Hub, so each widget threw a TypeError. Give MathJax 3 a Hub
//    whose Queue forwards to typesetPromise, once MathJax itself has loaded (it is deferred).
document.addEventListener("DOMContentLoaded", function () {
  if (window.MathJax && !window.MathJax.Hub) {
    window.MathJax.Hub = {
      Queue: function (job) {
        var element = Array.isArray(job) ? job[2] : undefined;
        if (window.MathJax.typesetPromise) {
          window.MathJax.typesetPromise(element ? [element] : undefined).catch(function () {});
        }
      },
    };
  }
});
