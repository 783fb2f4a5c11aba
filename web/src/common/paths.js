// Where the site's files are. Every bundle file lives in <site>/assets/bundle/,
// so the site root follows from this module's own URL, whatever the page's
// depth and whether the site is served from / or from /cadenza/.

export const SITE_ROOT = new URL("../../", import.meta.url);

/** Absolute URL of a path relative to the site root. */
export function siteUrl(path) {
  return new URL(path, SITE_ROOT).href;
}
