/*
 * KmemCache: the handle a caller holds for a slab cache. The cache's state lives in its
 * descriptor in managed memory; the handle keeps the immutable geometry as plain fields and
 * typed-array views onto the descriptor and onto this context's cpu slot, so that the hot
 * paths read constants and index small views with literal offsets.
 *
 * An alias (a cache merged into a compatible one, as SLUB merges) is a handle with its own
 * descriptor, name and object size whose geometry and views are those of the cache it was
 * merged into (`realId`).
 *
 * Each context (the main thread, a worker) has its own handles onto the same descriptors:
 * a handle is valid while its descriptor's serial number is the one it was built with.
 */

import { checkNodeArg, describe, KmemError } from "../errors.js";
import { Hdr } from "../memory/index.js";
import { Gfp } from "../page/index.js";
import type { ObjectAllocator } from "./allocator.js";
import { SlabFlag } from "./flags.js";

/**
 * A constructor: called with an object's address to put it in its constructed state (SLUB:
 * once per object when a slab is built; SLOB: at every allocation).
 */
export type Ctor = (addr: number) => void;

/**
 * The geometry a handle carries: the object and slot sizes, and how an allocator lays
 * objects out in its slabs (SLUB's calculate_sizes fills every field; SLOB only the sizes,
 * alignment and order).
 */
export interface CacheGeometry {
  objectSize: number;
  size: number;
  align: number;
  offset: number;
  redLeft: number;
  inuse: number;
  track: number;
  /** A slab's order: its smallest (SLUB's min), the order of its first slabs. */
  order: number;
  /**
   * The largest order its slabs take as the cache grows (SLUB's oo; see growOrder in
   * slub/layout.ts, topOrderOf): `order` unless the cache is sized for footprint.
   */
  topOrder: number;
  /** Objects in a slab of `order`... */
  objects: number;
  /** ...and in one of topOrder (a slab of order k between: as many as its bytes hold). */
  topObjects: number;
  bitmap: number;
  /** Words from a slab's own bitmap to its remote bitmap (0: one bitmap). See remoteWords. */
  remote: number;
  minPartial: number;
}

/**
 * @internal What an allocator builds a handle from: the fields of the same names (below),
 * the geometry's fields, and `slab`, the allocator itself.
 */
export interface KmemCacheInit {
  slab: ObjectAllocator;
  name: string;
  objectSize: number;
  desc: number;
  id: number;
  realId: number;
  geometry: CacheGeometry;
  secret: number;
  flags: number;
  ctor: Ctor | null;
  hasCtor: boolean;
  dv: Int32Array;
  cpu: Int32Array;
  slotIndex: Uint16Array;
  sheafCap: number;
  serial: number;
  ownSerial: number;
  nodeLockNames: readonly string[];
}

export class KmemCache {
  /** The name given to createCache. */
  readonly name: string;
  /** The size asked for. */
  readonly objectSize: number;
  /** Bytes per slot: the object with its alignment and debug metadata (slabinfo's objsize). */
  readonly size: number;
  /** @internal Descriptor address of this handle (an alias has its own). */
  readonly desc: number;
  /** @internal Cache id of this handle. */
  readonly id: number;
  /** @internal Id of the cache that holds the objects (this one, or the one merged into). */
  readonly realId: number;
  /**
   * @internal The real cache's object size (what poisoning, red zones, zeroing and ksize
   * use); a merge may raise it to the largest size merged in.
   */
  coreObjectSize: number;
  /** @internal Free pointer offset from the object. */
  readonly offset: number;
  /** @internal Bytes of left red zone before the object (Z). */
  readonly redLeft: number;
  /** @internal End of object and right red zone, from the object. */
  readonly inuse: number;
  /** @internal Offset of the track records (U), from the object. */
  readonly track: number;
  /** @internal Slabs are blocks of 2^order pages at least (the first slabs' order). */
  readonly order: number;
  /**
   * @internal The largest order of its slabs (order, unless they grow with the cache: a
   * slab's own order is its head frame's, and it holds the objects its bytes have room for).
   */
  readonly topOrder: number;
  /** @internal Objects per slab of `order`... */
  readonly objects: number;
  /** @internal ...and of topOrder. */
  readonly topObjects: number;
  /** @internal Byte offset of the bitmap in the slab, -1 when it lives in the frame. */
  readonly bitmap: number;
  /** @internal Words from the own bitmap to the remote one; 0: one bitmap (remoteWords). */
  readonly remote: number;
  /**
   * @internal Object index + 1 by (offset from the first object) / 8, 0 where no object
   * starts: object indices without a division (objects are at least 8-byte aligned).
   */
  readonly slotIndex: Uint16Array;
  /**
   * @internal Bytes from the first object to the end of the last slot of a slab of
   * topOrder (of any slab: a smaller one's slots are a prefix; where objects leave a tail,
   * a smaller slab's tail is inside this span, and its slots there are never allocated:
   * topOrderOf in slub/layout.ts).
   */
  readonly span: number;
  /** @internal Freelist hardening secret. */
  readonly secret: number;
  /** @internal SlabFlag bits of the real cache. */
  readonly flags: number;
  /** @internal The flags' debug bits (0 on the fast path). */
  readonly debug: number;
  /**
   * @internal What sends a free down its slow branch: the debug bits, and KMEM_OWN for
   * kmem's own caches (whose objects only kmem may free). 0 on the fast path.
   */
  readonly freeChecks: number;
  /**
   * @internal The constructor, or null. A cache made with one in another context gets it
   * here when this context registers it by name (Kmem.registerCtor).
   */
  ctor: Ctor | null;
  /** @internal The cache was made with a constructor (in whichever context). */
  readonly hasCtor: boolean;
  /** @internal Objects a cpu sheaf may hold (0: none). */
  readonly sheafCap: number;
  /** @internal The real cache's descriptor serial number when this handle was built. */
  readonly serial: number;
  /** @internal This handle's own descriptor serial (an alias's differs from its cache's). */
  readonly ownSerial: number;
  /** @internal The name of each node's list_lock of the real cache, in errors. */
  readonly nodeLockNames: readonly string[];
  /** @internal Descriptor words of the real cache. */
  readonly dv: Int32Array;
  /** @internal This context's cpu slot in the real cache's descriptor. */
  readonly cpu: Int32Array;
  /** @internal The allocator that made the cache (SLUB or SLOB), which the methods call. */
  readonly slab: ObjectAllocator;
  /** @internal Set by destroy(). */
  dead = false;

  /** @internal Built by the object allocator; callers get handles from createCache. */
  constructor(init: KmemCacheInit) {
    // Every handle gets its fields in this one order: one hidden class for the fast paths.
    const g = init.geometry;
    this.slab = init.slab;
    this.name = init.name;
    this.objectSize = init.objectSize;
    this.size = g.size;
    this.desc = init.desc;
    this.id = init.id;
    this.realId = init.realId;
    this.coreObjectSize = g.objectSize;
    this.offset = g.offset;
    this.redLeft = g.redLeft;
    this.inuse = g.inuse;
    this.track = g.track;
    this.order = g.order;
    this.topOrder = g.topOrder;
    this.objects = g.objects;
    this.topObjects = g.topObjects;
    this.bitmap = g.bitmap;
    this.remote = g.remote;
    this.slotIndex = init.slotIndex;
    this.span = g.topObjects * g.size;
    this.secret = init.secret;
    this.flags = init.flags;
    this.debug = init.flags & SlabFlag.DEBUG_MASK;
    this.freeChecks = init.flags & (SlabFlag.DEBUG_MASK | SlabFlag.KMEM_OWN);
    this.ctor = init.ctor;
    this.hasCtor = init.hasCtor;
    this.sheafCap = init.sheafCap;
    this.serial = init.serial;
    this.ownSerial = init.ownSerial;
    this.nodeLockNames = init.nodeLockNames;
    this.dv = init.dv;
    this.cpu = init.cpu;
  }

  /** Allocates one object; returns its address, or 0 if memory cannot be had. */
  alloc(gfp: number = Gfp.KERNEL): number {
    if (this.dead) this.deadCache("alloc");
    if ((this.flags & SlabFlag.KMEM_OWN) !== 0) this.ownCache("alloc");
    if (typeof gfp !== "number" || (gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp)
      this.slab.badGfp(gfp);
    // Object addresses live in i32 words (negative from 2 GiB up): unsigned for the caller.
    return this.slab.alloc(this, gfp, -1) >>> 0;
  }

  /**
   * kmem_cache_alloc_node: an object from a slab of node `nid` (-1: as alloc); without
   * __GFP_THISNODE another node serves when that one has nothing to spare.
   */
  allocNode(gfp: number, nid: number): number {
    if (this.dead) this.deadCache("allocNode");
    if ((this.flags & SlabFlag.KMEM_OWN) !== 0) this.ownCache("allocNode");
    if (typeof gfp !== "number" || (gfp & ~Gfp.VALID_MASK) !== 0 || (gfp | 0) !== gfp)
      this.slab.badGfp(gfp);
    checkNodeArg(nid, this.slab.nodeCount(), `${this.name}: `);
    return this.slab.allocNode(this, gfp, -1, nid) >>> 0;
  }

  /** Frees an object of this cache. */
  free(addr: number): void {
    if (this.dead) this.deadCache("free");
    if (typeof addr !== "number") {
      throw new TypeError(`${this.name}.free: address must be an integer, got ${describe(addr)}`);
    }
    const slab = this.slab;
    if (slab.h[Hdr.POOLS] !== 0 && slab.reserved !== null) slab.reserved(addr, `${this.name}.free`);
    slab.free(this, addr);
  }

  /** Gives every empty slab back to the page allocator; returns the pages freed. */
  shrink(): number {
    if (this.dead) this.deadCache("shrink");
    return this.slab.shrink(this);
  }

  /** Destroys the cache; throws KmemError BUSY (and keeps it) while objects are live. */
  destroy(): void {
    if (this.dead) this.deadCache("destroy");
    this.slab.destroy(this);
  }

  /**
   * @internal kmem's own metadata caches (the descriptors' cache, kmem_meta-N): their
   * objects only kmem may free, so a caller may not take one either (BUSY, as destroy()).
   */
  private ownCache(op: string): never {
    throw new KmemError(
      "BUSY",
      `${op}: cache ${JSON.stringify(this.name)} is kmem's own metadata; its objects are kmem's alone`,
    );
  }

  /** @internal */
  private deadCache(op: string): never {
    throw new KmemError("DESTROYED", `${op}: cache ${JSON.stringify(this.name)} was destroyed`);
  }

  toString(): string {
    return `KmemCache(${JSON.stringify(this.name)}, ${this.objectSize} bytes)`;
  }
}
