import ATWire
import Testing

struct ATCommandParserTests {
    @Test func basicAndExtendedCommandsConcatenate() throws {
        let commands = try ATCommandParser.parse("ATE0V1+CMEE=1;+CREG?;+COPS=?;&F S0=2 S7?")
        #expect(commands.map(\.name) == ["E", "V", "+CMEE", "+CREG", "+COPS", "&F", "S0", "S7"])
        #expect(commands[0].argument == "0")
        #expect(commands[2].form == .set && commands[2].parameters == [.bare("1")])
        #expect(commands[3].form == .read)
        #expect(commands[4].form == .test)
        #expect(commands[6].form == .set && commands[6].argument == "2")
        #expect(commands[7].form == .read)
    }

    @Test func parametersKeepQuotesOmissionsAndEscapes() throws {
        let command = try #require(try ATCommandParser.parse("AT+CMGS=\"+1555\\2C1\",,145").first)
        #expect(command.parameters == [.quoted("+1555,1"), .omitted, .bare("145")])
        #expect(command.parameter(2).int == 145)
        #expect(command.parameter(5) == .omitted)
        let semicolon = try ATCommandParser.parse("AT+CSCA=\"a;b\";+CSQ")
        #expect(semicolon.count == 2 && semicolon[0].parameters == [.quoted("a;b")])
    }

    @Test func dialTakesTheRestOfTheLine() throws {
        let commands = try ATCommandParser.parse("ATD+15551234;")
        #expect(commands == [ATCommand(name: "D", form: .execute, argument: "+15551234;")])
    }

    @Test func malformedLinesAreRefused() {
        for line in ["XT", "AT+", "AT+CMGS=\"open", "AT+CSCA=\"x\"y", "AT$", "ATS", "AT&"] {
            #expect(throws: ATParseError.self, "\(line)") { try ATCommandParser.parse(line) }
        }
    }

    @Test func resultCodesFollowVerboseAndQuiet() {
        #expect(ATFormatter().result(.ok) == Array("\r\nOK\r\n".utf8))
        #expect(ATFormatter(verbose: false).result(.noCarrier) == Array("3\r".utf8))
        #expect(ATFormatter(quiet: true).result(.error).isEmpty)
        #expect(ATFormatter(quiet: true).information("+CSQ: 1,2") == Array("\r\n+CSQ: 1,2\r\n".utf8))
    }
}
