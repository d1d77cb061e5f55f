/** Oracle round trips of the rich fixture: ALTER_COLUMN (see rich_ops.ts), on every database of the matrix. */

import "../helpers/matrix.ts"; // the test task starts the version matrix for files that import it
import { oracleTests } from "../helpers/oracle_tests.ts";
import { KNOWN_GAPS } from "./known_gaps.ts";
import { ALTER_COLUMN } from "./rich_ops.ts";

oracleTests("rich", ALTER_COLUMN, KNOWN_GAPS);
