/*
 * clients/csem/csem.c: what C and POSIX promise of the malloc family, checked from a C
 * program, on kmem's SLUB and SLOB and on wasi-libc's own malloc; and a C program's double
 * and invalid frees, reported by kmem with the program's own addresses.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KmemError } from "kmem/wasm";
import { instantiate, MALLOC_KINDS, runMain } from "../../src/index.js";
import { buildClients } from "./clients.js";

const built = buildClients("csem");
const skip = typeof built === "string" ? built : false;

describe("csem: the malloc family's C semantics, from C", { skip }, () => {
  if (typeof built === "string") return;
  for (const malloc of MALLOC_KINDS) {
    it(`every check passes on ${malloc}`, () => {
      const program = instantiate(built.bytes(`csem-${malloc === "libc" ? "libc" : "kmem"}`), {
        malloc,
        args: ["csem"],
      });
      const status = runMain(program);
      const out = program.wasi.text(1);
      assert.doesNotMatch(out, /^not ok/m, out);
      assert.match(out, /^0 failed$/m);
      assert.equal(status, 0);
      assert.equal((out.match(/^ok - /gm) ?? []).length, 18);
      if (program.heap !== null) {
        program.heap.kmem.verify();
        // Live at exit: wasi-libc's argv and its strings, allocated before main.
        assert.equal(program.heap.counts().live, 2);
      }
    });
  }

  for (const how of ["double-free", "invalid-free"]) {
    it(`${how}: thrown through the program's call (it traps), with its address`, () => {
      const program = instantiate(built.bytes("csem-kmem"), {
        malloc: "slub",
        args: ["csem", how],
      });
      const before = new Uint8Array(program.memory.buffer).slice();
      assert.throws(
        () => runMain(program),
        (err: unknown) => {
          assert.ok(err instanceof KmemError);
          const block = /^block 0x([0-9a-f]+)$/m.exec(program.wasi.text(1));
          assert.ok(block !== null, program.wasi.text(1));
          const p = parseInt(block[1] as string, 16) + (how === "double-free" ? 0 : 16);
          assert.equal(err.code, how === "double-free" ? "DOUBLE_FREE" : "INVALID_FREE");
          assert.ok(
            err.message.startsWith(`${err.code}: free(0x${p.toString(16)}): `),
            err.message,
          );
          return true;
        },
      );
      assert.doesNotMatch(program.wasi.text(1), /went on/);
      (program.heap as NonNullable<typeof program.heap>).kmem.verify();
      assert.notDeepEqual(new Uint8Array(program.memory.buffer), before, "the program ran");
    });

    it(`${how}: with misuse "log", reported and ignored, and the program goes on`, () => {
      const logged: string[] = [];
      const program = instantiate(built.bytes("csem-kmem"), {
        malloc: "slob",
        args: ["csem", how],
        heap: { misuse: "log", log: (m) => logged.push(m) },
      });
      assert.equal(runMain(program), 0);
      assert.match(program.wasi.text(1), /the program went on/);
      assert.equal(logged.length, 1);
      assert.match(
        logged[0] as string,
        how === "double-free" ? /^DOUBLE_FREE: free\(0x/ : /^INVALID_FREE: free\(0x/,
      );
      const heap = program.heap as NonNullable<typeof program.heap>;
      heap.kmem.verify();
      assert.equal(heap.counts().misuses, 1);
    });
  }
});
