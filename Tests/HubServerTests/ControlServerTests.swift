import Glibc
import JSON
import PlatformConfig
import Testing

@Suite struct ControlServerTests {
    @Test func greetingThenInfoOverUnixAndTCP() throws {
        let hub = try HubHarness()
        for client in [try LineClient(unixPath: hub.controlUnix), try LineClient(tcpPort: hub.controlTCPPort)] {
            let hello = try client.readJSON()
            #expect(hello["method"] == "hub.hello")
            #expect(hello["params"]?["protocol"] == 1)
            #expect(hello["params"]?["auth"] == "none")
            let info = try client.call("hub.info")
            #expect(info["result"]?["platform"] == "reference-handset")
            #expect(info["result"]?["lastSeq"]?.int64Value ?? 0 >= 1)
        }
        #expect(hub.stop() == 0)
    }

    @Test func badInputGetsPreciseErrorsAndTheConnectionStaysUsable() throws {
        let hub = try HubHarness()
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        client.sendLine("{not json")
        #expect(try client.readJSON()["error"]?["code"] == -32700)
        client.sendLine(#"{"jsonrpc":"2.0","id":7,"method":"no.such.method"}"#)
        let unknown = try client.readJSON()
        #expect(unknown["error"]?["code"] == -32601)
        #expect(unknown["id"] == 7)
        let wrongType = try client.call("partition.get", ["name": 5], id: 8)
        #expect(wrongType["error"]?["code"] == -32602)
        #expect(wrongType["error"]?["message"]?.stringValue?.contains("name") == true)
        let missing = try client.call("partition.get", ["name": "baseband"], id: 9)
        #expect(missing["error"]?["data"]?["reason"] == "no_such_partition")
        let fine = try client.call("partition.get", ["name": "rtos"], id: 10)
        #expect(fine["result"]?["policy"]?["mayInterrupt"]?.arrayValue?.contains("linux") == true)
        #expect(hub.stop() == 0)
    }

    @Test func overlongLineIsRefusedAndClosedWithoutDisturbingOthers() throws {
        let hub = try HubHarness { $0.hub.limits.controlMaxLineBytes = 4096 }
        let bystander = try LineClient(unixPath: hub.controlUnix)
        _ = try bystander.readJSON()
        let hostile = try LineClient(unixPath: hub.controlUnix)
        _ = try hostile.readJSON()
        hostile.sendRaw([UInt8](repeating: 0x41, count: 10_000))
        let refusal = try hostile.readJSON()
        #expect(refusal["error"]?["data"]?["reason"] == "line_too_long")
        #expect(hostile.isClosedByPeer())
        #expect(try bystander.call("hub.info")["result"] != nil)
        #expect(hub.stop() == 0)
    }

    @Test func tokenIsRequiredOnTCPAndAWrongOneClosesTheConnection() throws {
        let hub = try HubHarness {
            $0.hub.controlToken = "s3cret-token"
            $0.hub.limits.controlMaxAuthFailures = 1
        }
        let wrong = try LineClient(tcpPort: hub.controlTCPPort)
        #expect(try wrong.readJSON()["params"]?["auth"] == "token")
        #expect(try wrong.call("hub.info")["error"]?["data"]?["reason"] == "auth_required")
        #expect(
            try wrong.call("hub.authenticate", ["token": "guess"], id: 2)["error"]?["data"]?["reason"] == "bad_token")
        #expect(wrong.isClosedByPeer())

        let right = try LineClient(tcpPort: hub.controlTCPPort)
        _ = try right.readJSON()
        #expect(try right.call("hub.authenticate", ["token": "s3cret-token"])["result"]?["authenticated"] == true)
        #expect(try right.call("hub.info", id: 2)["result"] != nil)

        // The Unix socket is protected by file permissions instead.
        let local = try LineClient(unixPath: hub.controlUnix)
        #expect(try local.readJSON()["params"]?["auth"] == "none")
        #expect(hub.stop() == 0)
    }

    @Test func configurationIsShownWithSecretsRedacted() throws {
        let hub = try HubHarness { $0.hub.controlToken = "tok" }
        let client = try LineClient(unixPath: hub.controlUnix)
        _ = try client.readJSON()
        let config = try #require(try client.call("hub.config")["result"]?["config"])
        let text = config.serialized()
        #expect(!text.contains("rtos-dev-secret"))
        #expect(config["hub"]?["controlToken"] == "<redacted>")
        #expect(config["partitions"]?[0]?["name"] == "rtos")
        #expect(config["partitions"]?[0]?["priority"] == 0)
        let limits = try client.call("hub.limits", id: 2)
        #expect(
            limits["result"]?["limits"]?["controlMaxLineBytes"]?["value"] == .int(Int64(Limits().controlMaxLineBytes)))
        #expect(hub.stop() == 0)
    }

    @Test func shutdownWithTenClientsConnectedClosesEverything() throws {
        let hub = try HubHarness()
        var clients: [LineClient] = []
        for index in 0..<10 {
            let client =
                index % 2 == 0 ? try LineClient(unixPath: hub.controlUnix) : try LineClient(tcpPort: hub.controlTCPPort)
            _ = try client.readJSON()
            clients.append(client)
        }
        let answer = try clients[0].call("hub.shutdown")
        #expect(answer["result"]?["stopping"] == true)
        #expect(hub.waitForExit() == 0, "loop closed with no live handle")
        for client in clients { #expect(client.isClosedByPeer()) }
        #expect(access(hub.controlUnix, F_OK) != 0, "the control socket file is removed")
    }

    @Test func clientLimitIsEnforced() throws {
        let hub = try HubHarness { $0.hub.limits.controlMaxClients = 2 }
        // Clients count against controlMaxClients once past their handshake (here: their first request).
        let first = try LineClient(unixPath: hub.controlUnix)
        _ = try first.readJSON()
        _ = try first.call("hub.info")
        let second = try LineClient(unixPath: hub.controlUnix)
        _ = try second.readJSON()
        _ = try second.call("hub.info")
        let third = try LineClient(unixPath: hub.controlUnix)
        #expect(try third.readJSON()["error"]?["data"]?["reason"] == "too_many_clients")
        #expect(try first.call("hub.info", id: 2)["result"] != nil)
        #expect(hub.stop() == 0)
    }
}
