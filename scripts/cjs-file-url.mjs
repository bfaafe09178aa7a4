// Injected into the CommonJS bundle (scripts/build-cjs.mjs) as the value of
// import.meta.url: the bundle's own file URL.
export const fileUrl = require('node:url').pathToFileURL(__filename).href;
