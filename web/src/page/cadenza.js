// The site's page script (mkdocs extra_javascript, an ES module).
//
// mkdocs-material's instant navigation swaps page content without reloading
// scripts, so mounting happens in document$.subscribe: on every page shown,
// widgets whose element left the document are unmounted and each
// [data-cadenza] element not yet mounted gets its widget, whose code is
// imported on first use (the Compose page's code never loads on other pages).

window.TONE_SILENCE_LOGGING = true; // no Tone.js banner in the console

const WIDGETS = {
  compose: () => import("./compose.js"),
  quick: () => import("./quick.js"),
  yours: () => import("./yours.js"),
};
const mounted = new Map(); // element -> unmount()

function mountAll() {
  for (const [el, unmount] of mounted) {
    if (el.isConnected) continue;
    mounted.delete(el);
    unmount();
  }
  for (const el of document.querySelectorAll("[data-cadenza]")) {
    const load = WIDGETS[el.dataset.cadenza];
    if (!load || mounted.has(el)) continue;
    mounted.set(el, () => {}); // until its code has loaded
    load().then((widget) => {
      if (mounted.has(el)) mounted.set(el, widget.mount(el));
    }, (e) => {
      el.dataset.state = "error";
      el.prepend(Object.assign(document.createElement("p"), { className: "cz-error",
        textContent: `Error: this part of the page did not load (${e.message})` }));
    });
  }
}

/**
 * What axe-core asks of the theme's own widgets, which its JavaScript adds:
 * a name for each code block's button bar (a nav landmark each) and a
 * keyboard stop for each table that scrolls sideways.
 */
let labelled = 0; // landmark names must be unique on a page
function labelThemeWidgets() {
  document.querySelectorAll(".md-code__nav:not([aria-label])").forEach((nav) => {
    nav.setAttribute("aria-label", `Code block ${++labelled}`);
  });
  document.querySelectorAll(".md-typeset__scrollwrap:not([tabindex])").forEach((wrap) => {
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", `Table ${++labelled} (scrolls sideways)`);
  });
}
new MutationObserver(labelThemeWidgets).observe(document.documentElement,
  { childList: true, subtree: true });

if (window.document$) window.document$.subscribe(mountAll);
else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
else mountAll();
