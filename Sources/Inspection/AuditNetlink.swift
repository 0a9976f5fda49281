import Foundation
import Seccomp

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The kernel audit subsystem's netlink multicast group (`AUDIT_NLGRP_READLOG`): every
/// audit record the kernel emits, as it emits it, to any reader with CAP_AUDIT_READ.
///
/// What this kernel does (measured on Linux 6.18 without auditd: 200 calls under a LOG
/// rule): all 200 records reached the multicast group, while printk (/dev/kmsg, dmesg)
/// got 10 of them. The multicast send has no printk-style rate limit; when no audit
/// daemon is registered, the kernel multicasts each record *and* prints it through
/// printk's limit (about 10 per 5 seconds); with auditd registered, it multicasts and
/// unicasts to auditd instead of printing. The limits that do apply to the multicast are
/// the audit subsystem's own: its rate limit (`auditctl -r`, 0 = none by default) and its
/// backlog (`auditctl -b`, 64 by default; a process whose record finds the backlog full
/// waits up to the backlog wait time before the record is dropped), and this socket's
/// receive buffer: a reader that falls behind loses records, which `receive` reports as
/// `.overrun` (ENOBUFS).
///
/// The kernel multicasts on the initial network namespace's audit socket only: a reader
/// in another network namespace binds without error and never receives anything.
public enum AuditNetlink {
  /// `NETLINK_AUDIT`.
  public static let netlinkAudit: Int32 = 9
  /// `AUDIT_NLGRP_READLOG`, the read-only multicast group (group 1, bit 0 of `nl_groups`).
  public static let readLogGroup: UInt32 = 1
  /// `AUDIT_SECCOMP`.
  public static let seccompType: UInt16 = 1326
  /// `AUDIT_EOE`: the end of a multi-record event (no text worth reading).
  public static let endOfEventType: UInt16 = 1320
  /// `sizeof(struct nlmsghdr)`.
  static let headerSize = 16

  /// One netlink message: its `nlmsg_type` and its payload as text (NULs and trailing
  /// newlines removed). Audit records are `audit(SECONDS.MILLIS:SERIAL): key=value ...`.
  public struct Message: Hashable, Sendable {
    public var type: UInt16
    public var text: String

    public init(type: UInt16, text: String) {
      self.type = type
      self.text = text
    }
  }

  /// The netlink messages in one datagram. Multicast copies carry a correct `nlmsg_len`
  /// (header included); the kernel's unicast to auditd famously leaves the header out, so
  /// a length that runs past the datagram is cut to what is there.
  public static func messages(in datagram: [UInt8]) -> [Message] {
    var result: [Message] = []
    var offset = 0
    while datagram.count - offset >= headerSize {
      func u32(_ at: Int) -> UInt32 {
        datagram.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + at, as: UInt32.self) }
      }
      func u16(_ at: Int) -> UInt16 {
        datagram.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + at, as: UInt16.self) }
      }
      let length = Int(u32(0))
      let type = u16(4)
      let end = min(datagram.count, offset + max(length, headerSize))
      var payload = datagram[(offset + headerSize)..<end]
      if let nul = payload.firstIndex(of: 0) { payload = payload[..<nul] }
      while let last = payload.last, last == 10 || last == 13 || last == 32 { payload = payload.dropLast() }
      result.append(Message(type: type, text: String(decoding: payload, as: UTF8.self)))
      // NLMSG_ALIGN; a zero or short length would loop forever: stop at the datagram's end.
      guard length >= headerSize else { break }
      offset += (length + 3) & ~3
    }
    return result
  }

  /// The line `AuditLog` reads for a message: `type=1326 audit(...): ...` for a seccomp
  /// record, nil for every other type (SYSCALL, PROCTITLE, EOE, ...).
  public static func logLine(for message: Message) -> String? {
    message.type == seccompType ? "type=\(seccompType) \(message.text)" : nil
  }

  /// The seccomp record a message holds: nil for other types, `.malformed` for a seccomp
  /// message the log parser cannot read.
  public static func record(in message: Message, number: Int = 0) -> AuditLog.LineContent? {
    guard let line = logLine(for: message) else { return nil }
    return AuditLog.record(in: line, file: source, line: number)
  }

  /// The name records read from the group carry as their file.
  public static let source = "<netlink>"

  /// Why the group cannot be read.
  public struct Problem: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
      /// EPERM on bind: no CAP_AUDIT_READ in the initial user namespace.
      case permission
      /// EPROTONOSUPPORT on socket: a kernel built without CONFIG_AUDIT.
      case noAudit
      case other
    }
    public var kind: Kind
    /// The errno the kernel returned.
    public var errno: Int32
    public var description: String
  }

  /// What one `receive` got.
  public enum Received: Sendable {
    /// The messages of the datagrams waiting (a datagram holds one audit record).
    case messages([Message])
    /// Nothing arrived before the timeout (or a signal interrupted the wait).
    case nothing
    /// The socket's receive buffer overflowed (ENOBUFS): the kernel dropped records this
    /// reader had not read yet. Reading goes on.
    case overrun
  }

  /// A socket bound to `AUDIT_NLGRP_READLOG`.
  public final class Listener {
    public let fd: Int32

    /// Opens the socket, asks for a receive buffer of `receiveBuffer` bytes (forced past
    /// `net.core.rmem_max` when the caller has CAP_NET_ADMIN; memory is used only while
    /// records wait, each about 2 KiB), and joins the group.
    public init(receiveBuffer: Int = 32 << 20) throws(Problem) {
      let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), AuditNetlink.netlinkAudit)
      guard fd >= 0 else {
        let e = errno
        if e == EPROTONOSUPPORT || e == EAFNOSUPPORT {
          throw Problem(
            kind: .noAudit, errno: e,
            description: "this kernel has no audit support (built without CONFIG_AUDIT: \(String(cString: strerror(e)))), so it writes no seccomp records at all")
        }
        throw Problem(kind: .other, errno: e, description: "cannot open an audit netlink socket: \(String(cString: strerror(e)))")
      }
      self.fd = fd
      var size = Int32(clamping: receiveBuffer)
      let forced = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
      if forced != 0 { _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }

      // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }
      var address = [UInt8](repeating: 0, count: 12)
      address.withUnsafeMutableBytes { raw in
        raw.storeBytes(of: sa_family_t(AF_NETLINK), toByteOffset: 0, as: sa_family_t.self)
        raw.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)  // the kernel picks the port id
        raw.storeBytes(of: AuditNetlink.readLogGroup, toByteOffset: 8, as: UInt32.self)
      }
      let bound = address.withUnsafeBytes { raw in
        bind(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
      }
      if bound != 0 {
        let e = errno
        close(fd)
        if e == EPERM || e == EACCES {
          throw Problem(
            kind: .permission, errno: e,
            description: "joining the kernel's audit multicast group needs CAP_AUDIT_READ in the initial user namespace (\(String(cString: strerror(e)))); run as root, or give syscage the capability (setcap cap_audit_read+ep), or read /dev/kmsg (--kmsg) or audit.log instead")
        }
        throw Problem(kind: .other, errno: e, description: "cannot join the audit multicast group: \(String(cString: strerror(e)))")
      }
    }

    deinit { close(fd) }

    /// One datagram's worth: an audit record is at most MAX_AUDIT_MESSAGE_LENGTH (8970)
    /// bytes after the header.
    private var buffer = [UInt8](repeating: 0, count: 16384)

    /// Waits up to `timeoutMilliseconds` (negative: for ever) for records, then takes
    /// every datagram already queued (up to `limit`) and returns their messages. A signal
    /// ends the wait with `.nothing`.
    public func receive(timeoutMilliseconds: Int32, limit: Int = 4096) throws(Problem) -> Received {
      var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&descriptor, 1, timeoutMilliseconds)
      if ready < 0 {
        let e = errno
        if e == EINTR { return .nothing }
        throw Problem(kind: .other, errno: e, description: "poll on the audit netlink socket failed: \(String(cString: strerror(e)))")
      }
      if ready == 0 { return .nothing }
      var messages: [Message] = []
      for _ in 0..<limit {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n < 0 {
          let e = errno
          if e == EINTR || e == EAGAIN || e == EWOULDBLOCK { break }
          // Overflow is reported once it is read; the messages before it are kept next time.
          if e == ENOBUFS { return messages.isEmpty ? .overrun : .messages(messages) }
          throw Problem(kind: .other, errno: e, description: "reading the audit netlink socket failed: \(String(cString: strerror(e)))")
        }
        messages += AuditNetlink.messages(in: Array(buffer[0..<n]))
      }
      return messages.isEmpty ? .nothing : .messages(messages)
    }
  }

  /// Counts audit records that did not arrive, from the gaps in their serial numbers
  /// (the kernel numbers every audit event; the records of one event share its number).
  /// Records dropped by the socket's overflow, the audit backlog or rate limit all leave
  /// gaps. Serials can arrive slightly out of order (events on different CPUs), so the
  /// count is settled over everything seen. It is a lower bound: records lost after the
  /// last one that arrived (the tail of a burst that overflowed the socket) leave no gap,
  /// and records the backlog limit drops never get a serial.
  public struct SerialGaps: Sendable {
    /// Events seen: a new serial starts an event (the records of one event arrive together).
    private var events = 0
    private var last: UInt64?
    private var lowest: UInt64 = .max
    private var highest: UInt64 = 0

    public init() {}

    /// Notes one message (constant memory: a live reader runs for days).
    public mutating func note(_ message: Message) {
      guard let serial = AuditNetlink.serial(of: message.text) else { return }
      if serial != last { events += 1 }
      last = serial
      lowest = min(lowest, serial)
      highest = max(highest, serial)
    }

    /// Events between the first and the last serial seen that never arrived.
    public var missing: Int {
      events == 0 ? 0 : max(0, Int(highest - lowest + 1) - events)
    }
  }

  /// The serial of `audit(SECONDS.MILLIS:SERIAL): ...`.
  public static func serial(of text: String) -> UInt64? {
    guard text.hasPrefix("audit("), let close = text.firstIndex(of: ")") else { return nil }
    let stamp = text[text.index(text.startIndex, offsetBy: 6)..<close]
    guard let colon = stamp.lastIndex(of: ":") else { return nil }
    return UInt64(stamp[stamp.index(after: colon)...])
  }

  /// Whether this process is in the initial network namespace, judged by kthreadd's (pid
  /// 2 in the initial pid namespace) or else pid 1's; nil when neither can be read. The
  /// kernel multicasts audit records in the initial network namespace only, so a reader
  /// elsewhere (`unshare -n`, `ip netns exec`) receives nothing.
  public static func inInitialNetworkNamespace() -> Bool? {
    let fm = FileManager.default
    guard let mine = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/ns/net") else { return nil }
    let kthreadd = (try? String(contentsOfFile: "/proc/2/comm", encoding: .utf8)) == "kthreadd\n"
    for pid in kthreadd ? [2, 1] : [1] {
      if let theirs = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net") { return mine == theirs }
    }
    return nil
  }
}
