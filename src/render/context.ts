// The readable form of a context token (`--show-clock`): the version vector it carries,
// written as in DESIGN §3 (`n1:4, n3:2`).
import {decodeContext, formatVersionVector} from '../core/causality.js'

/** `n1:4, n3:2` for a token of `cluster`; throws the context's named errors otherwise. */
export function readableContext(token: string, cluster: string): string {
  return formatVersionVector(decodeContext(token, {cluster}))
}
