/** Oracle round trips of the rich fixture: DROP_TABLE (see rich_ops.ts), on every database of the matrix. */

import "../helpers/matrix.ts"; // the test task starts the version matrix for files that import it
import { oracleTests } from "../helpers/oracle_tests.ts";
import { KNOWN_GAPS } from "./known_gaps.ts";
import { DROP_TABLE } from "./rich_ops.ts";

oracleTests("rich", DROP_TABLE, KNOWN_GAPS);
