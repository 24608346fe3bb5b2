// The ipywidgets embedder typesets widget labels with the MathJax 2 call MathJax.Hub.Queue;
// the book loads MathJax 3, which has no Hub. Map the old call onto MathJax 3's typesetPromise.
(function () {
  var mj = window.MathJax;
  if (mj && !mj.Hub) {
    mj.Hub = {
      Queue: function (job) {
        var element = Array.isArray(job) ? job[2] : undefined;
        if (mj.typesetPromise) {
          mj.typesetPromise(element ? [element] : undefined).catch(function () {});
        }
      },
    };
  }
})();
