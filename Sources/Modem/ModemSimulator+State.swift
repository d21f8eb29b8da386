import ATWire

// The simulator's state, grouped by concern. Every field keeps the name of the AT command or setting it
// stands for (3GPP TS 27.007 / 27.005), so `options.cmee` is what `AT+CMEE` sets.
extension ModemSimulator {
    /// Result-code and reporting settings the host sets; ATZ / AT&F reset them.
    struct HostOptions {
        var cmee = 0
        var crc = 0
        var clip = 0
        var ccwa = 0
        var colp = 0
        /// Voice hangup control (27.007 §6.20): 0 and 2 let ATH end calls, 1 makes ATH a no-op.
        var cvhu = 0
        var cregMode = 0
        var cgregMode = 0
        var ceregMode = 0
        var sRegisters: [Int: Int] = [0: 0, 3: 13, 4: 10, 5: 8, 7: 60]
    }

    enum SIMState { case ready, pin, puk }

    /// The SIM's lock and its PIN.
    struct SIMCard {
        var state: SIMState
        var pinAttempts = 3
        var pukAttempts = 10
        var currentPIN: String?
    }

    /// The radio and the network as the modem sees it.
    struct NetworkState {
        /// `+CFUN`: 1 full functionality, 0 and 4 radio off.
        var cfun = 1
        /// False while the network is lost (the modem shows "searching").
        var available = true
        /// The registration the network grants while the SIM is ready and the radio on.
        var configuredRegistration = RegistrationState.home
        /// The last `<stat>` each of `+CREG`, `+CGREG`, `+CEREG` reported, to send URCs only on change.
        var reportedStat: [String: Int] = [:]
        var copsMode = 0
        var copsFormat = 0
        var currentOperator: ModemOperator
        var rssi = 20
        var ber = 0
        var lac = 0x1A2B
        var cellID = 0x0001_F00D
        var gprsAttached = true
        /// `+CGDCONT` contexts by cid.
        var pdpContexts: [Int: String] = [:]

        init(currentOperator: ModemOperator) {
            self.currentOperator = currentOperator
        }
    }

    /// Calls and the times their next step is due.
    struct Telephony {
        var calls: [ModemCall] = []
        /// The next `RING` of an incoming call.
        var ringAt: UInt64?
        /// When each dialled call starts alerting, by call id.
        var alertAt: [Int: UInt64] = [:]
        /// When each alerting call gives up unanswered, by call id.
        var giveUpAt: [Int: UInt64] = [:]
    }

    /// SMS settings, storage and the sending side.
    struct Messaging {
        var cmgf = 0
        var csms = 0
        var cscs = "IRA"
        var serviceCentre: String
        var cnmi = [0, 0, 0, 0, 0]
        var csmp = [17, 167, 0, 0]
        var csdh = 0
        /// The message store by index (1...`profile.smsCapacity`).
        var store: [Int: StoredSMS] = [:]
        /// TP-MR of the next SMS-SUBMIT (23.040 §9.2.3.6) and the next 8-bit concatenation reference.
        var nextReference = 0
        var nextConcatReference: UInt16 = 0
        /// A `+CNMA` is expected (`+CSMS=1` and a routed SMS-DELIVER).
        var ackPending = false
        var sent: [SentSMS] = []
        /// The `+CMGS` whose body the host is typing.
        var pendingSubmit: PendingSubmit?

        init(serviceCentre: String) {
            self.serviceCentre = serviceCentre
        }
    }
}
