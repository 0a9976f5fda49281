/// An argument value or datum as syscage writes it: decimal below 0x10000, hexadecimal
/// above (`40`, `0x7e020000`).
public struct ArgumentValue: Hashable, Sendable, CustomStringConvertible {
  public var raw: UInt64

  public init(_ raw: UInt64) { self.raw = raw }

  public var description: String { raw < 0x10000 ? String(raw) : hex }

  /// Always hexadecimal, for masks and mask patterns (`0x200`).
  public var hex: String { "0x" + String(raw, radix: 16) }
}
