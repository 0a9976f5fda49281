import BPF

// Public entries to DecisionMap.swift's argument-cell search, for Profiles (merge).

extension MaskClass {
  /// The class of values with `value & mask == equals` (every value of the mask when nil).
  public static func masked(_ mask: UInt64, equals: UInt64?) -> MaskClass {
    MaskClass(mask: mask, equals: equals, excluded: [])
  }

  /// The least value in `[lo, hi]` in every class, nil when there is none.
  public static func witness(lo: UInt64, hi: UInt64, classes: [MaskClass]) throws(TooComplex) -> UInt64? {
    try Witness.find(lo: lo, hi: hi, classes: classes)
  }
}
