"""Real photographs for accuracy checks (no downloads: they ship in scikit-image): the RGB sample images,
each whole, as four corner crops and a center crop, and all of those mirrored."""
import numpy as np

NAMES = ["chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry"]


def image_set(size=224) -> np.ndarray:
    """[N >= 50, 3, size, size] float32 in [-1, 1] (EfficientNet-Lite's input range)."""
    from skimage import data, transform
    views = []
    for name in NAMES:
        im = getattr(data, name)()[..., :3].astype(np.float32) / 255.0
        h, w = im.shape[:2]
        ch, cw = int(h * 0.7), int(w * 0.7)
        crops = [im, im[:ch, :cw], im[:ch, -cw:], im[-ch:, :cw], im[-ch:, -cw:],
                 im[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]]
        for c in crops:
            r = transform.resize(c, (size, size), anti_aliasing=True).astype(np.float32)
            views += [r, r[:, ::-1]]
    x = np.stack(views).transpose(0, 3, 1, 2)
    return np.ascontiguousarray((x - 0.5) / 0.5, dtype=np.float32)
