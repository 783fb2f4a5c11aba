// tfjs-core's own tf.io.decodeWeights, and nothing else of tf.io.
//
// Node runs this file: tfjs-core's CommonJS build there has tf.io whole. The
// site's bundle takes tfjs-core's io_utils module in its place
// (scripts/bundle.mjs), since reaching decodeWeights through the tf.io
// namespace would bring every model handler (http, IndexedDB, local storage,
// files) into the worker: 12 KB instead of 3.5.

import { io } from "@tensorflow/tfjs-core";

export const { decodeWeights } = io;
