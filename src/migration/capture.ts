/**
 * Reads from the live catalog what reversing a drop or an alter needs, just before the
 * operation runs forwards. The catalog knowledge itself lives in `src/catalog/` (one module
 * per object kind); this module keeps the name the engine imports.
 *
 * @module
 */

export { captureFor } from "../catalog/mod.ts";
