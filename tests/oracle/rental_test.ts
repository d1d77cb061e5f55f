/** Oracle round trips of the rental fixture (pagila's shape, see rental_ops.ts), on every database of the matrix. */

import "../helpers/matrix.ts"; // the test task starts the version matrix for files that import it
import { oracleTests } from "../helpers/oracle_tests.ts";
import { KNOWN_GAPS } from "./known_gaps.ts";
import { RENTAL } from "./rental_ops.ts";

oracleTests("rental", RENTAL, KNOWN_GAPS);
