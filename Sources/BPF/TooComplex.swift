/// Why a syscall's decision could not be computed exactly.
public struct TooComplex: Error, Hashable, Sendable, CustomStringConvertible {
  public var reason: String
  public init(reason: String) { self.reason = reason }
  public var description: String { reason }
}
