// libFuzzer entry for the YAML composer (Sources/YAML, over Debian's libyaml), which reads every configuration:
// arbitrary bytes are composed under small limits, and whatever composes must keep the composer's promises. A
// walk of the tree (iterative, aliases expanded) visits exactly `expandedNodes` nodes, which the limits bound;
// mappings and lists nest no deeper than `maxDepth`; no scalar holds a NUL; a mapping's scalar keys are unique.

@_cdecl("LLVMFuzzerTestOneInput")
public func yamlFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let limits = ComposeLimits(maxAliasNodes: 2000, maxDepth: 16)
    guard case .some(.some(let composed)) = try? Composer.compose(text, limits: limits) else { return 0 }
    // Every node written once plus what aliases add: the written ones are at most a node per input byte or two.
    precondition(composed.expandedNodes <= 2 * size + 2 + limits.maxAliasNodes, "the alias bound did not hold")
    var visited = 0
    var stack: [(node: Node, depth: Int)] = [(composed.root, 0)]
    while let (node, depth) = stack.popLast() {
        visited += 1
        precondition(visited <= composed.expandedNodes, "the tree is larger than its expanded size")
        switch node {
        case .scalar(let scalar):
            precondition(!scalar.string.utf8.contains(0), "a scalar holds a NUL")
        case .mapping(let map):
            precondition(depth < limits.maxDepth, "nested deeper than maxDepth")
            var keys = Set<String>()
            for (key, value) in map.pairs {
                if let name = key.string { precondition(keys.insert(name).inserted, "a duplicate key composed") }
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
            }
        case .sequence(let list):
            precondition(depth < limits.maxDepth, "nested deeper than maxDepth")
            for element in list.elements { stack.append((element, depth + 1)) }
        }
    }
    precondition(visited == composed.expandedNodes, "walked \(visited) nodes, expandedNodes \(composed.expandedNodes)")
    return 0
}
