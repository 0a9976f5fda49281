import Foundation
import Syscalls

/// What syscage reads of an ELF file: its ABI, the loader it names (PT_INTERP), section
/// names, PT_NOTE notes, the dynamic section's DT_NEEDED entries and string table. Reads with pread; a malformed
/// file yields what could be read.
public struct ELFFile: Sendable {
  /// The ABI its code is built for, nil for another machine.
  public var arch: Arch?
  /// The dynamic loader of PT_INTERP, nil for a program without one (static).
  public var interpreter: String?
  /// Its section names.
  public var sectionNames: Set<String> = []
  /// A PT_NOTE note of owner "Go", type 4 (the Go build id).
  public var hasGoNote = false
  /// The libraries of DT_NEEDED.
  public var needed: [String] = []
  /// The NUL-separated strings of the dynamic string table (symbol and library names).
  public var dynamicStrings: Set<String> = []

  /// Reads `path`; nil when it is not a readable regular ELF file.

  public init?(path: String) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    let size = Int(st.st_size)
    func read(_ offset: Int, _ count: Int) -> [UInt8] {
      guard offset >= 0, count > 0, offset < size else { return [] }
      let n = min(count, size - offset, 64 << 20)
      var buf = [UInt8](repeating: 0, count: n)
      let got = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(offset)) }
      return got > 0 ? Array(buf.prefix(got)) : []
    }
    let ident = read(0, 64)
    guard ident.count >= 52, ident[0] == 0x7f, ident[1] == 0x45, ident[2] == 0x4c, ident[3] == 0x46, ident[5] == 1 else {
      return nil
    }
    let is64 = ident[4] == 2
    func u16(_ b: [UInt8], _ o: Int) -> Int { o + 2 <= b.count ? Int(b[o]) | Int(b[o + 1]) << 8 : 0 }
    func u32(_ b: [UInt8], _ o: Int) -> Int { o + 4 <= b.count ? (0..<4).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } : 0 }
    func u64(_ b: [UInt8], _ o: Int) -> Int {
      o + 8 <= b.count ? Int(truncatingIfNeeded: (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) }) : 0
    }
    func word(_ b: [UInt8], _ o: Int) -> Int { is64 ? u64(b, o) : u32(b, o) }
    let machine = u16(ident, 18)
    switch (machine, is64) {
    case (62, true): arch = .x86_64
    case (62, false): arch = .x32
    case (3, false): arch = .x86
    default: arch = nil
    }
    let phoff = word(ident, is64 ? 32 : 28), shoff = word(ident, is64 ? 40 : 32)
    let phentsize = u16(ident, is64 ? 54 : 42), phnum = u16(ident, is64 ? 56 : 44)
    let shentsize = u16(ident, is64 ? 58 : 46), shnum = u16(ident, is64 ? 60 : 48), shstrndx = u16(ident, is64 ? 62 : 50)

    // Program headers: PT_INTERP (3) for the loader, PT_NOTE (4) for the Go note,
    // PT_DYNAMIC (2) for DT_NEEDED, PT_LOAD (1) to turn DT_STRTAB's address into a file offset.
    var loads: [(vaddr: Int, offset: Int, size: Int)] = []
    var dynamic: (offset: Int, size: Int)?
    let ph = read(phoff, phentsize * phnum)
    for i in 0..<phnum where phentsize > 0 {
      let o = i * phentsize
      let type = u32(ph, o)
      let offset = is64 ? u64(ph, o + 8) : u32(ph, o + 4)
      let vaddr = is64 ? u64(ph, o + 16) : u32(ph, o + 8)
      let filesz = is64 ? u64(ph, o + 32) : u32(ph, o + 16)
      switch type {
      case 1: loads.append((vaddr, offset, filesz))
      case 2: dynamic = (offset, filesz)
      case 3: interpreter = String(decoding: read(offset, min(filesz, 4096)).prefix { $0 != 0 }, as: UTF8.self)
      case 4: if Self.notes(read(offset, min(filesz, 1 << 16))).contains(where: { $0.owner == "Go" && $0.type == 4 }) { hasGoNote = true }
      default: break
      }
    }
    // Section names.
    let sh = read(shoff, shentsize * shnum)
    if shentsize > 0, shstrndx < shnum {
      let so = shstrndx * shentsize
      let names = read(word(sh, so + (is64 ? 24 : 16)), word(sh, so + (is64 ? 32 : 20)))
      for i in 0..<shnum {
        let at = u32(sh, i * shentsize)
        if at < names.count, let end = names[at...].firstIndex(of: 0) {
          sectionNames.insert(String(decoding: names[at..<end], as: UTF8.self))
        }
      }
    }
    // The dynamic section: DT_NEEDED (1) offsets into DT_STRTAB (5) of DT_STRSZ (10).
    if let dynamic {
      let d = read(dynamic.offset, min(dynamic.size, 1 << 20))
      let entry = is64 ? 16 : 8
      var neededOffsets: [Int] = []
      var strtab = 0, strsz = 0
      var i = 0
      while i + entry <= d.count {
        let tag = word(d, i), value = word(d, i + entry / 2)
        if tag == 0 { break }
        if tag == 1 { neededOffsets.append(value) }
        if tag == 5 { strtab = value }
        if tag == 10 { strsz = value }
        i += entry
      }
      if let load = loads.first(where: { strtab >= $0.vaddr && strtab < $0.vaddr + $0.size }), strsz > 0 {
        let strings = read(strtab - load.vaddr + load.offset, strsz)
        for at in neededOffsets where at < strings.count {
          if let end = strings[at...].firstIndex(of: 0) { needed.append(String(decoding: strings[at..<end], as: UTF8.self)) }
        }
        dynamicStrings = Set(strings.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
      }
    }
  }

  /// The notes of a PT_NOTE segment: owner name and type.
  static func notes(_ b: [UInt8]) -> [(owner: String, type: Int)] {
    func u32(_ o: Int) -> Int { o + 4 <= b.count ? (0..<4).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } : 0 }
    var out: [(String, Int)] = []
    var o = 0
    while o + 12 <= b.count {
      let namesz = u32(o), descsz = u32(o + 4), type = u32(o + 8)
      let nameEnd = min(b.count, o + 12 + namesz)
      let name = b[(o + 12)..<nameEnd].prefix { $0 != 0 }
      out.append((String(decoding: name, as: UTF8.self), type))
      o += 12 + (namesz + 3) / 4 * 4 + (descsz + 3) / 4 * 4
    }
    return out
  }
}
