// hubctl: the command-line face of the control API (Protocols/control.md). All protocol logic lives in
// HubControlClient and ControlWire; this target only parses arguments and formats output.
HubCtl.main()
