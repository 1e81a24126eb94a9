// Typeset the maths that pymdownx.arithmatex marks (class "arithmatex"), with the local KaTeX.
function typeset() {
  for (const element of document.querySelectorAll(".arithmatex")) {
    renderMathInElement(element, {
      delimiters: [{ left: "\\(", right: "\\)", display: false }, { left: "\\[", right: "\\]", display: true }],
      throwOnError: false,
    });
  }
}
if (typeof document$ !== "undefined") document$.subscribe(typeset);  // Material's instant navigation
else document.addEventListener("DOMContentLoaded", typeset);
