/// One to five random edits of `text`'s bytes (a flipped bit, an inserted token, a cut,
/// a copied span, an inserted number): the fuzzers' mutation.
public func mutated(_ text: String, tokens: [String], _ r: inout SplitMix64) -> [UInt8] {
  var bytes = Array(text.utf8)
  for _ in 0...r.below(4) {
    let at = bytes.isEmpty ? 0 : r.below(bytes.count)
    switch r.below(5) {
    case 0 where !bytes.isEmpty: bytes[at] ^= UInt8(1) << UInt8(r.below(8))
    case 1: bytes.insert(contentsOf: Array(tokens[r.below(tokens.count)].utf8), at: at)
    case 2 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + 1 + r.below(16)))
    case 3 where !bytes.isEmpty:
      let end = min(bytes.count, at + 1 + r.below(64))
      bytes.insert(contentsOf: bytes[at..<end], at: r.below(bytes.count))
    default: bytes.insert(contentsOf: Array(String(r.next()).utf8), at: at)
    }
  }
  return bytes
}
