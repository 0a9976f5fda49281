/// Edit distance between two words, counting an adjacent transposition as one edit
/// (optimal string alignment), compared byte by byte and case-insensitively.
public func editDistance(_ a: some StringProtocol, _ b: some StringProtocol) -> Int {
  editDistance(Array(a.lowercased().utf8), Array(b.lowercased().utf8))
}

/// The candidates within `maxDistance` edits of `word` (see `editDistance`), nearest
/// first, then in the candidates' order.
public func nearestWords(to word: String, in candidates: [String], maxDistance: Int) -> [String] {
  let w = Array(word.lowercased().utf8)
  guard w.count <= 64 else { return [] }
  return candidates.enumerated()
    .map { (offset: $0.offset, word: $0.element, distance: editDistance(w, Array($0.element.lowercased().utf8))) }
    .filter { $0.distance <= maxDistance }
    .sorted { ($0.distance, $0.offset) < ($1.distance, $1.offset) }
    .map(\.word)
}

/// `editDistance` on bytes, with two rows of the table kept.
func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
  if a.isEmpty || b.isEmpty { return a.count + b.count }
  var before = [Int](repeating: 0, count: b.count + 1)  // row i - 2
  var prev = Array(0...b.count)  // row i - 1
  var cur = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    cur[0] = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
        cur[j] = Swift.min(cur[j], before[j - 2] + 1)
      }
    }
    (before, prev, cur) = (prev, cur, before)
  }
  return prev[b.count]
}

/// `editDistance` when it is at most `limit`, else some value above `limit` (the table
/// stops once a whole row is past it, and words differing in length by more are not compared).
func editDistance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
  if abs(a.count - b.count) > limit { return limit + 1 }
  if a.isEmpty || b.isEmpty { return a.count + b.count }
  var before = [Int](repeating: 0, count: b.count + 1)
  var prev = [Int](repeating: 0, count: b.count + 1)
  for j in 0..<prev.count { prev[j] = j }
  var cur = [Int](repeating: 0, count: b.count + 1)
  var prevMin = 0
  for i in 1...a.count {
    cur[0] = i
    var rowMin = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
        cur[j] = Swift.min(cur[j], before[j - 2] + 1)
      }
      rowMin = Swift.min(rowMin, cur[j])
    }
    // A transposition reaches back two rows: stop only when both rows are past the limit.
    if rowMin > limit && prevMin > limit { return limit + 1 }
    prevMin = rowMin
    (before, prev, cur) = (prev, cur, before)
  }
  return prev[b.count]
}
