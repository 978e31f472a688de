// The wire protocol's version, timeouts and per-connection limits in one place (DESIGN §1.4,
// §7). System-wide limits such as the frame size live in src/core/limits.ts.

/** Wire protocol version sent in every hello. Bump it on any change that an older peer
 * would misread; peers with different versions refuse each other (PROTOCOL_MISMATCH). */
export const protocolVersion = 1

/** Longest a new connection may take to complete the hello exchange (and the secret's
 * challenge-response). A handshake is one or two loopback or LAN round trips; 5 s covers a
 * loaded machine and still frees a socket held open by something that never speaks. */
export const helloTimeoutMs = 5_000

/** Longest a TCP connect may take. On a LAN a connect takes well under 10 ms; a peer that
 * does not answer in 3 s is unreachable for the purposes of a request, and the caller may
 * try a fallback (Dynamo §4.6, sloppy quorum). */
export const connectTimeoutMs = 3_000

/** Default time a request waits for its reply. A replica read or write is one round trip
 * plus one local disk operation; 2 s leaves room for a group-commit fsync under load while
 * still marking a stuck replica as failed quickly enough for a quorum to move on. */
export const requestTimeoutMsDefault = 2_000

/** Longest a graceful close waits for in-flight requests to finish before it destroys the
 * connection. Bounded so that SIGTERM always ends the process; larger than the default
 * request timeout so that a request that will be answered usually is. */
export const closeTimeoutMs = 5_000

/** Most requests one connection may have waiting for replies, in each direction. Bounds
 * the memory and handler work one peer can demand; beyond it the local caller gets
 * InFlightLimitError at once, and a peer that sends more is a protocol error. */
export const inFlightRequestsMax = 1_024

/** Most connections one node keeps open at once, clients and peers together, those still
 * in their hello included. A node needs one per peer and one per client connection pool;
 * 4,096 leaves room for thousands of client processes, while a flood of connections (or a
 * client leaking them) cannot take every file descriptor and leave the store unable to
 * open a segment. Beyond it a new connection is told TOO_MANY_CONNECTIONS and closed; the
 * open ones are served as before. Keep the process's descriptor limit (`ulimit -n`) above
 * this plus the store's files. */
export const connectionsMax = 4_096

/** TLS connections a node lets wait in their handshake at once, beyond the connections it
 * has accepted: a handshake is not a connection yet (connectionsMax counts those), but it
 * holds a socket and TLS state for up to helloTimeoutMs. Past this, new TCP connections are
 * closed on arrival until handshakes finish or time out, so clients that open TLS
 * connections and never finish the handshake pin a bounded amount of memory. */
export const tlsHandshakesPendingMax = 1_024

/** A node closes a connection it accepted after this long without a frame either way and
 * with nothing in flight: a client that went away without closing (a laptop asleep, a
 * process frozen) stops holding a descriptor and its buffers for good. Peers talk every
 * second (pings, gossip), so only forgotten connections reach it; ten minutes spares a
 * `dyn shell` left open over a coffee most reconnects, and the client library reconnects
 * on its next request anyway. */
export const idleTimeoutMs = 10 * 60_000

/** Replies a node has written to a connection it accepted and the other side has not read
 * yet, beyond which the node stops reading that connection's requests until the backlog
 * drains. Without it a client that sends requests and never reads the answers makes the
 * node buffer every answer, without end. One frame at the frame limit fits; the memory a
 * slow reader pins is this plus the answers of the requests already read (at most
 * inFlightRequestsMax). The connecting side never stops reading: a node connecting to a
 * peer must keep reading the peer's answers, or two busy nodes could wait on each other. */
export const slowReaderBytesMax = 16 * 1024 * 1024

/** Bytes of the random nonce in each hello: 256 bits, the HMAC-SHA256 block of security. */
export const nonceBytes = 32

/** Longest cluster name, node name or message type accepted in a frame, in UTF-8 bytes.
 * Names are identifiers shown in tables and logs, never payload. */
export const nameBytesMax = 255

/** Request ids run from 1 to this and then wrap; 0 marks one-way messages and
 * connection-level errors. 2^31 - 1 keeps ids in MessagePack's 5-byte int form. */
export const requestIdMax = 2 ** 31 - 1
