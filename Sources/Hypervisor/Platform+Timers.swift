extension Platform {
    /// Why `TIMER_SET`'s values (microseconds) cannot arm a timer, or nil (`Protocols/guest.md` §6.7): a period
    /// other than 0 under the minimum, or a first or second deadline past the hub's clock (2^64 ns).
    package func timerRefusal(firstDelayMicroseconds: UInt64, periodMicroseconds: UInt64) -> String? {
        let minimum = options.minimumTimerPeriodNanoseconds / 1000
        if periodMicroseconds != 0 && periodMicroseconds < minimum {
            return "period_us \(periodMicroseconds) is below the minimum of \(minimum)"
        }
        let (after, afterOverflow) = firstDelayMicroseconds.multipliedReportingOverflow(by: 1000)
        let (every, everyOverflow) = periodMicroseconds.multipliedReportingOverflow(by: 1000)
        let (first, firstOverflow) = scheduler.now.addingReportingOverflow(after)
        guard !afterOverflow, !everyOverflow, !firstOverflow, !first.addingReportingOverflow(every).overflow else {
            return "first_delay_us and period_us must keep the timer within the hub's clock (2^64 ns)"
        }
        return nil
    }

    /// Arms the partition's virtual timer on `line`: it raises the line after
    /// `afterNanoseconds`, then every `periodNanoseconds` if given. Re-arming a line replaces
    /// its timer.
    package func armTimer(session: SessionID, line: Int, afterNanoseconds: UInt64, periodNanoseconds: UInt64? = nil)
        -> LineOutcome
    {
        guard let partition = partitionState(of: session) else { return .notAttached }
        guard partition.controller.isValid(line: line) else { return .noSuchLine }
        if let period = periodNanoseconds, period < options.minimumTimerPeriodNanoseconds { return .invalid }
        cancelTimer(of: partition, line: line)
        let now = scheduler.now
        let deadline = now.addingReportingOverflow(afterNanoseconds)
        guard !deadline.overflow else { return .invalid }
        // The second deadline must be on the clock too: a period of nearly 2^64 ns (TIMER_SET allows u64
        // microseconds) would wrap when re-armed and trap computing the delay (`timerFired`).
        if let period = periodNanoseconds, deadline.partialValue.addingReportingOverflow(period).overflow {
            return .invalid
        }
        let token = scheduler.schedule(after: afterNanoseconds)
        timers[token] = VirtualTimer(
            partition: partition.index, line: line, deadline: deadline.partialValue, period: periodNanoseconds)
        partition.timers[line] = token
        return .ok
    }

    /// Stops the timer on `line`, if one is armed.
    package func cancelTimer(session: SessionID, line: Int) -> LineOutcome {
        guard let partition = partitionState(of: session) else { return .notAttached }
        guard partition.controller.isValid(line: line) else { return .noSuchLine }
        cancelTimer(of: partition, line: line)
        return .ok
    }

    /// The scheduler reports that `token`'s deadline passed. Unknown or cancelled tokens are
    /// ignored. A periodic timer is re-armed on its original cadence; periods missed while
    /// the loop was late fold into this one raise.
    package func timerFired(_ token: TimerToken, actions: inout [Action]) {
        guard var timer = timers.removeValue(forKey: token) else { return }
        let partition = partitions[timer.partition]
        partition.timers[timer.line] = nil
        if let period = timer.period {
            let now = scheduler.now
            var next = timer.deadline.addingReportingOverflow(period)
            if !next.overflow, next.partialValue <= now {
                let missed = (now - timer.deadline) / period
                let (span, spanOverflow) = (missed + 1).multipliedReportingOverflow(by: period)
                next = spanOverflow ? (0, true) : timer.deadline.addingReportingOverflow(span)
            }
            // A next deadline past the end of the clock never comes: the timer ends with this raise.
            if !next.overflow {
                timer.deadline = next.partialValue
                let nextToken = scheduler.schedule(after: next.partialValue - now)
                timers[nextToken] = timer
                partition.timers[timer.line] = nextToken
            }
        }
        _ = raiseLine(on: partition, line: timer.line, originator: .timer, actions: &actions)
    }

    func cancelTimer(of partition: PartitionState, line: Int) {
        guard let token = partition.timers.removeValue(forKey: line) else { return }
        timers[token] = nil
        scheduler.cancel(token)
    }

    func cancelTimers(of partition: PartitionState) {
        for line in Array(partition.timers.keys) { cancelTimer(of: partition, line: line) }
    }
}
