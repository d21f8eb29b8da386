// libFuzzer entry for the PNG decoder behind `fb.wait {png}` (Protocols/control.md §15.5): the image a control
// client sends is decoded before it is compared with the screen, so every length in it is hostile.
// Built by run-png-fuzz.sh from the sources of Framebuffer, Zlib (inflate, deflate, CRC-32) and ScreenGeometry as
// one module.
//
// Properties checked beyond "does not crash":
// - the decoder never returns more pixels than the limit it was given;
// - an image it accepts survives encode → decode unchanged (the encoder writes what the decoder reads).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNGDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let maxPixels = 64 * 64
    guard let image = try? PNGDecoder.decode(bytes, maxPixels: maxPixels) else { return 0 }
    precondition(image.width * image.height == image.pixels.count, "pixel count does not match the size")
    precondition(image.pixels.count <= maxPixels, "decoded more pixels than the limit")
    let again = PNGEncoder.encode(pixels: image.pixels, width: image.width, height: image.height)
    guard let round = try? PNGDecoder.decode(again, maxPixels: maxPixels) else {
        preconditionFailure("the encoder's output does not decode")
    }
    precondition(round == image, "encode → decode changed the image")
    return 0
}
