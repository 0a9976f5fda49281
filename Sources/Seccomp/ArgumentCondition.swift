/// A comparison operator of an argument condition.
public enum ComparisonOperator: String, CaseIterable, Hashable, Sendable {
  case notEqual = "SCMP_CMP_NE"
  case lessThan = "SCMP_CMP_LT"
  case lessOrEqual = "SCMP_CMP_LE"
  case equal = "SCMP_CMP_EQ"
  case greaterOrEqual = "SCMP_CMP_GE"
  case greaterThan = "SCMP_CMP_GT"
  case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

/// One argument condition: `args[index] op value` (for MASKED_EQ,
/// `args[index] & value == valueTwo`).
public struct ArgumentCondition: Hashable, Sendable {
  public var index: Int
  public var value: UInt64
  /// nil when absent; Docker omits it when zero.
  public var valueTwo: UInt64?
  public var op: ComparisonOperator
  public init(index: Int, value: UInt64, valueTwo: UInt64? = nil, op: ComparisonOperator) {
    self.index = index
    self.value = value
    self.valueTwo = valueTwo
    self.op = op
  }
}
