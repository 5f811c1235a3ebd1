"""Vision stages, one small module each: photo loading, face mesh, warp, colour, masks, smoothing."""
