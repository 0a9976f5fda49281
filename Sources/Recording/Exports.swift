/// The launch vocabulary (`Termination`, `Launcher.Failure`, `StrictModeRequest`) is
/// Processes'; a client of Recording sees it with this module.
@_exported import Processes
