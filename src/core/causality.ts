// Causality of dyn: dotted version vectors (Preguiça, Baquero, Almeida, Fonte, Gonçalves,
// "Dotted Version Vectors: Logical Clocks for Optimistic Replication", 2010; Riak 2.0
// `dvv_enabled`; DESIGN §3; docs/causality.md). One entry point for the parts:
//   causality/version-vector.ts  version vectors, dots, the readable form `n1:4, n3:2`
//   causality/object.ts          stored objects, the put and sync rules, sibling limits
//   causality/codec.ts           canonical binary encoding and the version digest
//   causality/context.ts         the opaque context token clients carry
export * from './causality/version-vector.js'
export * from './causality/object.js'
export * from './causality/codec.js'
export * from './causality/context.js'
