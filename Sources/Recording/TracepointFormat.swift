import Foundation

/// The fields and id of one tracepoint, read from its tracefs `format` file.
public struct TracepointFormat: Hashable, Sendable {
  /// One field of the trace record: where it is in the record the program gets as its context.
  public struct Field: Hashable, Sendable {
    public var offset: Int
    public var size: Int
    public var isSigned: Bool

    public init(offset: Int, size: Int, isSigned: Bool) {
      self.offset = offset
      self.size = size
      self.isSigned = isSigned
    }
  }

  /// The event's id (the perf_event_open `config` of a PERF_TYPE_TRACEPOINT event).
  public var id: UInt64
  /// The fields by name (an array field by its name without the brackets).
  public var fields: [String: Field]

  /// Parses a `format` file (`ID: 443`, then lines like
  /// `field:long id;	offset:8;	size:8;	signed:1;`). nil without an id.
  public init?(parsing text: String) {
    var id: UInt64?
    var fields: [String: Field] = [:]
    for line in text.split(separator: "\n") {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("ID:") {
        id = UInt64(trimmed.dropFirst(3).trimmingCharacters(in: .whitespaces))
        continue
      }
      guard trimmed.hasPrefix("field:") else { continue }
      var declaration = ""
      var offset: Int?
      var size: Int?
      var signed = false
      for part in trimmed.split(separator: ";") {
        let part = part.trimmingCharacters(in: .whitespaces)
        if part.hasPrefix("field:") {
          declaration = String(part.dropFirst(6))
        } else if part.hasPrefix("offset:") {
          offset = Int(part.dropFirst(7))
        } else if part.hasPrefix("size:") {
          size = Int(part.dropFirst(5))
        } else if part.hasPrefix("signed:") {
          signed = part.dropFirst(7) == "1"
        }
      }
      guard let offset, let size,
        var name = declaration.split(separator: " ").last.map(String.init)
      else { continue }
      if let bracket = name.firstIndex(of: "[") { name = String(name[..<bracket]) }
      fields[name] = Field(offset: offset, size: size, isSigned: signed)
    }
    guard let id else { return nil }
    self.id = id
    self.fields = fields
  }

  public init(id: UInt64, fields: [String: Field]) {
    self.id = id
    self.fields = fields
  }
}

/// Where the tracepoint formats come from.
enum Tracefs {
  static let mountPoints = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

  /// The formats of `events` (`system/name`), from the first tracefs that has them; when
  /// none is mounted, from tracefs mounted for the moment on a private temporary
  /// directory (root only), unmounted afterwards.
  static func formats(_ events: [String]) throws(EBPFRecorder.Failure) -> [String: TracepointFormat] {
    if events.isEmpty { return [:] }
    for root in mountPoints where FileManager.default.fileExists(atPath: root + "/events") {
      return try read(events, from: root)
    }
    #if os(Linux)
      let template = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-tracefs-XXXXXX").path
      var path = Array(template.utf8CString)
      guard let dir = path.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) })
      else {
        throw EBPFRecorder.Failure(.tracefs, "tracefs is not mounted (\(mountPoints.joined(separator: ", ")))")
      }
      defer { rmdir(dir) }
      guard mount("tracefs", dir, "tracefs", 0, nil) == 0 else {
        let error = String(cString: strerror(errno))
        throw EBPFRecorder.Failure(
          .tracefs,
          "tracefs is not mounted at \(mountPoints.joined(separator: " or ")) and mounting it failed (\(error)); mount it: mount -t tracefs nodev /sys/kernel/tracing"
        )
      }
      defer { umount2(dir, Int32(MNT_DETACH)) }
      return try read(events, from: dir)
    #else
      throw EBPFRecorder.Failure(.tracefs, "tracefs needs Linux")
    #endif
  }

  private static func read(_ events: [String], from root: String) throws(EBPFRecorder.Failure)
    -> [String: TracepointFormat]
  {
    var formats: [String: TracepointFormat] = [:]
    for event in events {
      let path = "\(root)/events/\(event)/format"
      let text: String
      do {
        text = try String(contentsOfFile: path, encoding: .utf8)
      } catch {
        let reason = access(path, F_OK) == 0 ? "cannot read \(path) (tracefs is root-only by default)" : "no \(path): the kernel has no tracepoint \(event) (CONFIG_FTRACE_SYSCALLS / CONFIG_TRACEPOINTS)"
        throw EBPFRecorder.Failure(access(path, F_OK) == 0 ? .privileges : .tracefs, reason)
      }
      guard let format = TracepointFormat(parsing: text) else {
        throw EBPFRecorder.Failure(.tracefs, "\(path) has no event id")
      }
      formats[event] = format
    }
    return formats
  }
}
