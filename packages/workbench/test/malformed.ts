/* Malformed traces and the exact message each must give (shared by the reader and CLI tests). */

/** [name, trace text, line, message]: each must fail with exactly `file:line: message`. */
export const MALFORMED: [string, string, number, string][] = [
  ["empty file", "", 1, "empty file: expected the header (heap size, ids, ops, weight)"],
  [
    "header cut short",
    "100\n2\n",
    2,
    "the file ends inside the header: expected the number of ops",
  ],
  [
    "header not a number",
    "100\nmany\n2\n1\n",
    2,
    'bad header: expected the number of ids (a non-negative integer), got "many"',
  ],
  [
    "header with two numbers",
    "100 200\n2\n2\n1\n",
    1,
    'bad header: expected the suggested heap size (a non-negative integer), got "100 200"',
  ],
  [
    "too many ids",
    "0\n99999999999\n1\n1\na 0 1\n",
    2,
    "bad header: 99999999999 ids is more than the 67108864 a trace may declare",
  ],
  ["unknown op", "0\n2\n2\n1\na 0 8\nx 0\n", 6, 'unknown op "x" (expected a, f or r)'],
  ["op without size", "0\n2\n2\n1\na 0\nf 0\n", 5, '"a" needs an id and a size: "a <id> <bytes>"'],
  ["free without id", "0\n2\n2\n1\na 0 8\nf\n", 6, '"f" needs an id: "f <id>"'],
  ["extra field", "0\n2\n2\n1\na 0 8 9\nf 0\n", 5, 'unexpected "9" after the op'],
  ["negative size", "0\n2\n2\n1\na 0 -8\nf 0\n", 5, 'negative size "-8"'],
  ["size not a number", "0\n2\n2\n1\na 0 8k\nf 0\n", 5, 'size "8k" is not a non-negative integer'],
  [
    "huge size",
    "0\n2\n2\n1\na 0 4294967296\nf 0\n",
    5,
    "size 4294967296 is too large (at most 2147483647 bytes)",
  ],
  ["bad id", "0\n2\n2\n1\na x 8\nf 0\n", 5, 'id "x" is not a non-negative integer'],
  [
    "id out of range",
    "0\n2\n2\n1\na 2 8\nf 2\n",
    5,
    "id 2 is out of range: the header declares 2 ids (0..1)",
  ],
  [
    "free of an unknown id",
    "0\n2\n2\n1\na 0 8\nf 1\n",
    6,
    "free of id 1, which is never allocated",
  ],
  ["double free", "0\n2\n3\n1\na 0 8\nf 0\nf 0\n", 7, "free of id 0, which is already freed"],
  [
    "realloc of an unknown id",
    "0\n2\n2\n1\na 0 8\nr 1 9\n",
    6,
    "realloc of id 1, which is never allocated",
  ],
  [
    "id allocated twice",
    "0\n2\n2\n1\na 0 8\na 0 9\n",
    6,
    "id 0 is allocated again, but its block from line 5 is live",
  ],
  [
    "more ops than declared",
    "0\n2\n1\n1\na 0 8\nf 0\n",
    6,
    "more ops than the 1 the header declares",
  ],
  [
    "truncated file",
    "0\n2\n4\n1\na 0 8\nf 0\n",
    6,
    "the file ends after 2 ops, the header declares 4 (truncated?)",
  ],
];
