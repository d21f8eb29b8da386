// hubctl: the command-line face of the control API (Protocols/control.md). All protocol logic lives in
// HubControlClient and ControlWire; this target only parses arguments and formats output.

/// Moves global options written before the subcommand (`hubctl --hub X --json info`) after it, where
/// ArgumentParser's option groups read them; `hubctl info --hub X` keeps working too.
func reorderGlobalOptions(_ arguments: [String]) -> [String] {
    let withValue: Set<String> = ["--hub", "--token", "--call-timeout-ms"]
    let flags: Set<String> = ["--json"]
    var leading: [String] = []
    var index = 0
    while index < arguments.count {
        let argument = arguments[index]
        let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
        if flags.contains(argument) || (withValue.contains(name) && argument.contains("=")) {
            leading.append(argument)
            index += 1
        } else if withValue.contains(argument) && index + 1 < arguments.count {
            leading += [argument, arguments[index + 1]]
            index += 2
        } else {
            break
        }
    }
    guard !leading.isEmpty, index < arguments.count else { return arguments }
    return [arguments[index]] + leading + arguments[(index + 1)...]
}

HubCtl.main(reorderGlobalOptions(Array(CommandLine.arguments.dropFirst())))
