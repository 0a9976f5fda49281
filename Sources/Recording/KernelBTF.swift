import Foundation

/// The kernel's own type information (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF):
/// just enough of the BTF format (linux/btf.h) to find a struct member's offset.
public enum KernelBTF {
  public static let path = "/sys/kernel/btf/vmlinux"

  /// The byte offset of `member` in `struct name`, or nil (no BTF, no such struct or
  /// member, or a bit field).
  public static func offset(of member: String, in name: String, btf: [UInt8]? = nil) -> Int? {
    guard let data = btf ?? FileManager.default.contents(atPath: path).map({ [UInt8]($0) }) else { return nil }
    return data.withUnsafeBytes { raw -> Int? in
      guard raw.count >= 24 else { return nil }
      func u16(_ at: Int) -> UInt16 { raw.loadUnaligned(fromByteOffset: at, as: UInt16.self) }
      func u32(_ at: Int) -> UInt32 { raw.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
      guard u16(0) == 0xeb9f else { return nil }  // native byte order only
      let headerLength = Int(u32(4))
      let typeStart = headerLength + Int(u32(8))
      let typeEnd = typeStart + Int(u32(12))
      let stringStart = headerLength + Int(u32(16))
      let stringEnd = stringStart + Int(u32(20))
      guard typeEnd <= raw.count, stringEnd <= raw.count else { return nil }
      func nameIs(_ offset: UInt32, _ expected: String) -> Bool {
        var at = stringStart + Int(offset)
        for byte in expected.utf8 {
          guard at < stringEnd, raw[at] == byte else { return false }
          at += 1
        }
        return at < stringEnd && raw[at] == 0
      }
      var at = typeStart
      while at + 12 <= typeEnd {
        let info = u32(at + 4)
        let kind = (info >> 24) & 0x1f
        let count = Int(info & 0xffff)
        let kindFlag = info >> 31 != 0
        let extra: Int
        switch kind {
        case 1, 14, 17: extra = 4  // INT, VAR, DECL_TAG
        case 3: extra = 12  // ARRAY
        case 4, 5, 15, 19: extra = 12 * count  // STRUCT, UNION, DATASEC, ENUM64
        case 6, 13: extra = 8 * count  // ENUM, FUNC_PROTO
        case 2, 7, 8, 9, 10, 11, 12, 16, 18: extra = 0
        default: return nil  // a kind this reader does not know: its size is unknown
        }
        if kind == 4 && nameIs(u32(at), name) {
          for m in 0..<count {
            let entry = at + 12 + 12 * m
            guard nameIs(u32(entry), member) else { continue }
            let offset = u32(entry + 8)
            let bits = kindFlag ? Int(offset & 0xff_ffff) : Int(offset)
            if kindFlag && offset >> 24 != 0 { return nil }  // a bit field
            return bits % 8 == 0 ? bits / 8 : nil
          }
        }
        at += 12 + extra
      }
      return nil
    }
  }
}
