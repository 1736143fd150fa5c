/*
 * workload.c: a sqlite workload for comparing mallocs. In a database of the memory VFS
 * (memvfs.c): N inserts in one transaction, an index, queries through it and without, a
 * join, deletes, an update rolled back and one committed. What the queries return goes to
 * standard output, the same whichever malloc serves sqlite; sqlite's own memory figures go
 * to standard error. Everything is freed at the end (sqlite3_shutdown).
 *
 *   sqlite-workload [ROWS]      (default 20000)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

static sqlite3 *db;

static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, db ? sqlite3_errmsg(db) : "no database");
  exit(1);
}

static void exec(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql, err);
    exit(1);
  }
}

/* Prints every row of `sql`, columns separated by '|', after a line naming the query. */
static void query(const char *title, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(sql);
  printf("-- %s\n", title);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
      const unsigned char *text = sqlite3_column_text(st, i);
      printf("%s%s", i ? "|" : "", text ? (const char *)text : "NULL");
    }
    printf("\n");
  }
  if (rc != SQLITE_DONE) die(sql);
  sqlite3_finalize(st);
}

/* A fixed sequence of numbers (xorshift), so that every run inserts the same rows. */
static unsigned int seed = 88172645u;
static unsigned int next(void) {
  seed ^= seed << 13;
  seed ^= seed >> 17;
  seed ^= seed << 5;
  return seed;
}

static const char *syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "pa",
                                  "qu", "ho", "ji", "we", "xo", "bu"};

static void word(char *out, int syllable_count) {
  out[0] = 0;
  for (int i = 0; i < syllable_count; i++) strcat(out, syllables[next() % 16]);
}

int main(int argc, char **argv) {
  int rows = argc > 1 ? atoi(argv[1]) : 20000;
  if (sqlite3_open_v2("/workload.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL))
    die("open");
  exec("CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, value REAL, data BLOB);"
       "CREATE TABLE tag(item INTEGER, tag TEXT);");

  sqlite3_stmt *ins, *tag;
  if (sqlite3_prepare_v2(db, "INSERT INTO item(name, value, data) VALUES(?, ?, ?)", -1, &ins,
                         NULL) ||
      sqlite3_prepare_v2(db, "INSERT INTO tag VALUES(?, ?)", -1, &tag, NULL))
    die("prepare");
  exec("BEGIN");
  char name[64], blob[400];
  for (int i = 0; i < rows; i++) {
    word(name, 2 + next() % 4);
    int len = next() % sizeof blob;
    for (int k = 0; k < len; k++) blob[k] = (char)next();
    sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(ins, 2, (next() % 100000) / 100.0);
    sqlite3_bind_blob(ins, 3, blob, len, SQLITE_TRANSIENT);
    if (sqlite3_step(ins) != SQLITE_DONE) die("insert");
    sqlite3_reset(ins);
    if (next() % 3 == 0) {
      word(name, 1);
      sqlite3_bind_int64(tag, 1, sqlite3_last_insert_rowid(db));
      sqlite3_bind_text(tag, 2, name, -1, SQLITE_TRANSIENT);
      if (sqlite3_step(tag) != SQLITE_DONE) die("tag");
      sqlite3_reset(tag);
    }
  }
  exec("COMMIT");
  sqlite3_finalize(ins);
  sqlite3_finalize(tag);

  exec("CREATE INDEX item_name ON item(name); CREATE INDEX tag_item ON tag(item)");
  query("count, sum, average blob", "SELECT count(*), round(sum(value), 2), "
                                    "round(avg(length(data)), 3) FROM item");
  query("names by first syllable", "SELECT substr(name, 1, 2) AS s, count(*) FROM item "
                                   "GROUP BY s ORDER BY 2 DESC, 1 LIMIT 6");
  query("a range of the index", "SELECT id, name FROM item WHERE name BETWEEN 'kaka' AND "
                                "'kalo' ORDER BY name, id LIMIT 8");
  query("sorted without an index", "SELECT id, value FROM item ORDER BY value DESC, id "
                                   "LIMIT 5");
  query("join", "SELECT tag, count(*), round(avg(value), 2) FROM tag JOIN item ON "
                "item.id = tag.item GROUP BY tag ORDER BY 2 DESC, 1 LIMIT 5");
  query("distinct names", "SELECT count(DISTINCT name) FROM item");

  exec("DELETE FROM item WHERE id % 3 = 0; DELETE FROM tag WHERE item NOT IN "
       "(SELECT id FROM item)");
  query("after deletes", "SELECT count(*), min(id), max(id) FROM item");

  exec("BEGIN; UPDATE item SET value = value * 2 WHERE name LIKE 'ka%'; "
       "DELETE FROM tag; ROLLBACK");
  query("after a rollback", "SELECT round(sum(value), 2), (SELECT count(*) FROM tag) "
                            "FROM item");
  exec("BEGIN; UPDATE item SET name = upper(name) WHERE id % 7 = 1; "
       "INSERT INTO tag SELECT id, 'new' FROM item WHERE id % 11 = 0; COMMIT");
  query("after a commit", "SELECT (SELECT count(*) FROM item WHERE name = upper(name)), "
                          "(SELECT count(*) FROM tag WHERE tag = 'new')");
  query("the tags of a few", "SELECT item, group_concat(tag, ',') FROM "
                             "(SELECT * FROM tag ORDER BY item, tag) GROUP BY item "
                             "ORDER BY item LIMIT 4");
  query("integrity", "PRAGMA integrity_check");

  int cur, high;
  sqlite3_status(SQLITE_STATUS_MEMORY_USED, &cur, &high, 0);
  fprintf(stderr, "sqlite %s: %d rows, memory used %d bytes, high water %d bytes\n",
          sqlite3_libversion(), rows, cur, high);
  if (sqlite3_close(db) != SQLITE_OK) die("close");
  db = NULL;
  sqlite3_shutdown();
  return 0;
}
