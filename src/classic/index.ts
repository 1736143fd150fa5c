/* The classic UNIX kernel allocators over kmem's pages (docs/classic.md). */
export { classicAllocator } from "./byte-allocators.js";
export type { ClassicStats } from "./control.js";
export { type DynixClass, DynixAllocator, type DynixOptions, type DynixStats } from "./dynix.js";
export {
  LazyBuddyAllocator,
  type LazyBuddyOptions,
  type LazyBuddyOrder,
  type LazyBuddyStats,
} from "./lazy-buddy.js";
export {
  MachZoneAllocator,
  type MachZoneOptions,
  type MachZoneStats,
  MAX_ZONES,
  type ZoneInfo,
  type ZoneOptions,
} from "./mach-zone.js";
export {
  M_NOWAIT,
  M_WAITOK,
  type MalloctType,
  McKusickKarelsAllocator,
  type McKusickKarelsOptions,
  type McKusickKarelsStats,
  type MkBucket,
  type MkPageInfo,
  type MkType,
} from "./mckusick-karels.js";
export { type P2Bucket, P2Allocator, type P2Stats } from "./p2.js";
export {
  CLASSIC_NAMES,
  type ClassicAllocator,
  type ClassicAllocators,
  type ClassicName,
  type ClassicOptions,
  createClassicAllocator,
} from "./registry.js";
