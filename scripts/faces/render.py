#!/usr/bin/env python3
"""Procedural cartoon faces with known attributes: lace's face data set (issue 3, see docs/faces-data-card.md).

render(n, seed) -> (uint8 images [n, 64, 64, 3], dict of attribute arrays). numpy only, vectorised over a
batch: every shape is a signed distance field, over the whole picture or over a small window around its
feature, turned into an anti-aliased alpha (one pixel of blur) and composited back to front. Parameters are
drawn per block of BLOCK images from default_rng([seed, block]), so image i depends only on (seed, i):
render(k, s) is a prefix of render(n, s).

CLI: `/usr/bin/python3 scripts/faces/render.py --sheet faces.png` writes a contact sheet and prints the
attribute rates, the rare combinations and the rendering speed.
"""
import argparse
import itertools
import json
import time

import numpy as np

SIZE = 64
BLOCK = 1000
CHUNK = 500  # images drawn at once: larger amortises numpy's per-call cost, smaller stays in cache
HAIR_CLASSES = ["black", "brown", "blonde", "red", "grey"]
HAIR_RGB = np.array([[32, 28, 30], [105, 62, 32], [228, 192, 108], [182, 72, 28], [200, 200, 204]],
                    np.float32) / 255.0
GREY_RGB = np.array([196, 196, 200], np.float32) / 255.0
# The labels a labeler predicts, in column order: binary logits, hair class logits, continuous values.
# train_gan.py's labeler hook and later the latent classifier use this layout.
BINARY = ["smile", "glasses", "beard", "hat"]
CONTINUOUS = {"age": (0.0, 1.0), "yaw": (-1.0, 1.0)}
LABEL_COLUMNS = BINARY + [f"hair={c}" for c in HAIR_CLASSES] + list(CONTINUOUS)

_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5  # pixel centres


# ----------------------------------------------------------------------------------------------
# Attributes and nuisance parameters

def sample_params(n, rng, balanced=False):
    """Attributes with real-life correlations, plus the nuisance geometry and colours of each face.
    balanced: every attribute drawn on its own and evenly instead (binary ones at 1/2, age and yaw uniform,
    the hair colours at 1/5 each), so that a classifier sees every combination often, rare ones included;
    only grey hair keeps to the data's support, age 0.5 and over (a judge trained on young grey-haired
    faces stops reading grey hair as age, and reads the data's old faces younger)."""
    p = {}
    male = rng.random(n) < 0.5
    if balanced:
        age = rng.random(n).astype(np.float32)
        p["age"] = age
        p["yaw"] = rng.uniform(-1.0, 1.0, n).astype(np.float32)
        for b in BINARY:
            p[b] = rng.random(n) < 0.5
        hair = rng.integers(0, len(HAIR_CLASSES), n)
        grey = len(HAIR_CLASSES) - 1
        p["hair"] = np.where((hair == grey) & (age < 0.5), rng.integers(0, grey, n), hair).astype(np.int64)
    else:
        age = rng.beta(1.3, 1.5, n).astype(np.float32)
        p["age"] = age
        p["yaw"] = (2.0 * rng.beta(1.3, 1.3, n) - 1.0).astype(np.float32)
        # Beards: men, more with age. Glasses: more with age. Hats: rarer, a little more on men.
        p["beard"] = rng.random(n) < np.where(male, 0.06 + 0.55 * age, 0.004)
        p["glasses"] = rng.random(n) < 0.10 + 0.32 * age
        p["hat"] = rng.random(n) < np.where(male, 0.13, 0.08)
        p["smile"] = rng.random(n) < 0.62 - 0.25 * age
        # Hair colour: grey only comes with age; red and blonde a little younger.
        p_grey = np.clip((age - 0.5) * 1.8, 0.0, 0.8)
        young = 1.0 - 0.5 * age
        w = np.stack([0.34 * np.ones(n), 0.34 * np.ones(n), 0.21 * young, 0.11 * young], 1)
        w = w / w.sum(1, keepdims=True) * (1.0 - p_grey)[:, None]
        cum = np.cumsum(np.concatenate([w, p_grey[:, None]], 1), 1)
        p["hair"] = (rng.random(n)[:, None] > cum).sum(1).clip(0, 4).astype(np.int64)

    # Nuisance: geometry
    s = rng.uniform(0.86, 1.1, n)
    p["s"] = s
    p["cx"] = 32.0 + rng.uniform(-3.5, 3.5, n)
    p["cy"] = 29.5 + rng.uniform(-2.5, 2.5, n)
    p["ry"] = 16.5 * s * rng.uniform(0.95, 1.05, n)
    p["rx"] = p["ry"] * rng.uniform(0.74, 0.88, n)
    p["jaw"] = rng.uniform(0.0, 0.3, n) + 0.08 * male      # lower face narrowing
    p["long_hair"] = rng.random(n) < np.where(male, 0.1, 0.8)
    p["hair_len"] = rng.uniform(6, 16, n) * s
    p["hairline"] = rng.uniform(0.38, 0.55, n) - 0.18 * male * age * rng.random(n)
    p["side_drop"] = rng.uniform(0.35, 0.8, n)
    p["hair_jit"] = rng.uniform(0.85, 1.1, (n, 3))
    p["grey_speed"] = rng.uniform(0.8, 1.4, n)             # how early a person greys
    p["brow_tilt"] = rng.uniform(-0.5, 0.5, n)
    p["mouth_w"] = rng.uniform(0.85, 1.15, n)
    p["eye_dy"] = rng.uniform(-0.08, 0.02, n)
    p["beard_top"] = rng.uniform(0.12, 0.3, n)
    p["beard_len"] = rng.uniform(1.06, 1.2, n)
    p["hat_h"] = rng.uniform(0.45, 0.8, n)
    p["hat_brim"] = rng.uniform(1.25, 1.55, n)
    p["hat_y"] = rng.uniform(0.45, 0.6, n)
    # Nuisance: colours
    t = rng.random(n)
    light, dark = np.array([246, 208, 178]) / 255.0, np.array([112, 72, 48]) / 255.0
    p["skin"] = (light + (dark - light) * t[:, None]) * rng.uniform(0.95, 1.05, (n, 3))
    p["bg0"] = _muted(rng, n)
    p["bg1"] = _muted(rng, n)
    p["bg_dir"] = rng.uniform(0, 2 * np.pi, n)
    p["shirt"] = rng.uniform(0.1, 0.9, (n, 3))
    p["hat_col"] = rng.uniform(0.05, 0.85, (n, 3))
    p["band_col"] = rng.uniform(0.05, 0.95, (n, 3))
    p["iris"] = rng.uniform(0.05, 0.35, (n, 3))
    frame = np.where(rng.random(n)[:, None] < 0.75, rng.uniform(0.0, 0.18, (n, 3)),
                     np.array([0.55, 0.42, 0.12]) * rng.uniform(0.8, 1.1, (n, 1)))  # dark or gold frames
    p["frame"] = frame
    p["hair_rgb"] = hair_rgb(p["hair"], p["hair_jit"])
    p["grey_share"] = grey_share(age, p["grey_speed"])
    return {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in p.items()}


def hair_rgb(hair, jitter):
    """The base colour of each hair class, varied per person."""
    return np.clip(HAIR_RGB[hair] * jitter, 0, 1)


def grey_share(age, speed):
    """How much of the hair has turned grey (from the temples inwards): none before 0.3, then with age."""
    return np.clip((age - 0.3) / 0.6 * speed, 0.0, 1.0)


def _muted(rng, n):
    base = rng.uniform(0.25, 0.95, (n, 3))
    grey = base.mean(1, keepdims=True)
    return grey + (base - grey) * rng.uniform(0.2, 0.7, (n, 1))


# ----------------------------------------------------------------------------------------------
# Signed distances (pixels; negative inside) on a pixel grid, and compositing

def _col(v):
    return np.asarray(v, np.float32).reshape(-1, 1, 1)  # per-image values broadcast over [n, h, w]; scalars too


class Win:
    """A w x h window per image, moved inside the image, where a small feature is drawn: a face feature
    covers a few percent of the picture, so drawing it on its window instead of 64x64 is most of the speed."""

    def __init__(self, rows, x0, y0, w, h):
        xi = np.clip(np.floor(x0), 0, SIZE - w).astype(np.intp)[:, None, None]
        yi = np.clip(np.floor(y0), 0, SIZE - h).astype(np.intp)[:, None, None]
        ax, ay = np.arange(w)[None, None, :], np.arange(h)[None, :, None]
        self.flat = ((np.asarray(rows)[:, None, None] * SIZE + yi + ay) * SIZE + xi + ax).ravel()  # pixel numbers
        self.shape = (len(rows), h, w, 3)
        self.X = (xi + ax).astype(np.float32) + 0.5
        self.Y = (yi + ay).astype(np.float32) + 0.5

    def get(self, img):
        return img.reshape(-1, 3)[self.flat].reshape(self.shape)

    def put(self, img, sub):
        img.reshape(-1, 3)[self.flat] = sub.reshape(-1, 3)


def ellipse(g, cx, cy, rx, ry):
    """Approximate distance to an ellipse's boundary: implicit function over its gradient length."""
    dx, dy = g.X - _col(cx), g.Y - _col(cy)
    rx, ry = _col(rx), _col(ry)
    f = (dx / rx) ** 2 + (dy / ry) ** 2 - 1.0
    return f / (2.0 * np.sqrt((dx / rx ** 2) ** 2 + (dy / ry ** 2) ** 2) + 1e-6)


def head_shape(g, p, sx=1.0, sy=1.0):
    """The head outline: an ellipse narrowing towards the jaw (scaled by sx, sy for the beard)."""
    cx, cy, rx, ry = _col(p["cx"]), _col(p["cy"]), _col(p["rx"] * sx), _col(p["ry"] * sy)
    fy = (g.Y - cy) / ry
    fx = (g.X - cx) / (1.0 - _col(p["jaw"]) * np.clip(fy, 0, 1) ** 2) / rx
    return (fx ** 2 + fy ** 2 - 1.0) / (2 * np.sqrt((fx / rx) ** 2 + (fy / ry) ** 2) + 1e-6), fx


def segment(g, ax, ay, bx, by, r):
    """Capsule: distance to the segment a-b minus radius r."""
    pax, pay = g.X - _col(ax), g.Y - _col(ay)
    bax, bay = _col(bx) - _col(ax), _col(by) - _col(ay)
    h = np.clip((pax * bax + pay * bay) / (bax * bax + bay * bay + 1e-6), 0.0, 1.0)
    return np.sqrt((pax - bax * h) ** 2 + (pay - bay * h) ** 2) - _col(r)


def alpha(d):
    return np.clip(0.5 - d, 0.0, 1.0)  # one pixel of anti-aliasing


def paint(img, a, colour):
    """img <- img + a (colour - img); a [n,h,w], colour [n,3] or [n,h,w,3]."""
    colour = np.asarray(colour, np.float32)
    if colour.ndim == 2:
        colour = colour[:, None, None, :]
    tmp = colour - img
    tmp *= a[..., None]
    img += tmp


def darken(img, a, amount):
    img *= 1.0 - (a * _col(amount))[..., None]


# ----------------------------------------------------------------------------------------------
# Drawing

def hair_colour(g, p):
    """Hair colour per pixel: the base colour, turning grey from the temples (the sides) inwards with age."""
    hair = p["hair_rgb"][:, None, None, :]
    edge = (1.0 - 1.4 * p["grey_share"]) * p["rx"]   # grey starts this far from the middle, over 0.4 rx
    x = g.X[:, :1, :] if g.X.shape[1] > 1 else g.X   # depends on the column only: [n, 1, w]
    mix = np.clip((np.abs(x - _col(p["cx"])) - _col(edge)) / _col(0.4 * p["rx"]), 0, 1)
    return hair + (GREY_RGB - hair) * mix[..., None]


def draw(p):
    """Float images [n, 64, 64, 3] in [0, 1] for the parameters p, back to front."""
    n = len(p["cx"])
    rows = np.arange(n)
    cx, cy, rx, ry, s = p["cx"], p["cy"], p["rx"], p["ry"], p["s"]
    phi = p["yaw"] * np.float32(np.deg2rad(40.0))  # yaw 1: head turned 40 degrees, features to the right
    sphi = np.sin(phi)

    # Background: a linear gradient between two muted colours in a random direction
    t = ((_X - 32) * _col(np.cos(p["bg_dir"])) + (_Y - 32) * _col(np.sin(p["bg_dir"]))) / 64.0 + 0.5
    img = p["bg0"][:, None, None, :] + (p["bg1"] - p["bg0"])[:, None, None, :] * t[..., None]

    # Back hair: a cap behind the head; long hair falls to the shoulders
    w = Win(rows, cx - 1.16 * rx - 1, cy - 1.13 * ry - 1, 42, 60)
    sub = w.get(img)
    back = ellipse(w, cx, cy - 0.08 * ry, rx * 1.16, ry * 1.05)
    long_d = np.maximum(segment(w, cx, cy, cx, cy + p["hair_len"], rx * 1.12), _col(cy - ry * 0.2) - w.Y)
    long_d = np.where(_col(p["long_hair"]) > 0, long_d, np.float32(1e3))
    paint(sub, alpha(np.minimum(back, long_d)), hair_colour(w, p))
    w.put(img, sub)

    # Shoulders (a shirt) and neck; long hair lies over the shoulders beside the neck
    w = Win(rows, np.zeros(n), np.full(n, 40), 64, 24)
    sub = w.get(img)
    paint(sub, alpha(ellipse(w, cx, cy + ry + 16 * s, rx * 1.9, 14 * s)), p["shirt"])
    paint(sub, alpha(segment(w, cx, cy + 0.5 * ry, cx, cy + ry + 6 * s, rx * 0.4)), p["skin"] * 0.82)
    sel = np.nonzero(p["long_hair"])[0]
    if len(sel):
        q = {k: v[sel] for k, v in p.items()}
        lw = Win(np.arange(len(sel)), np.zeros(len(sel)), np.full(len(sel), 40), 64, 24)  # same window, subset
        locks = np.maximum(segment(lw, q["cx"], q["cy"], q["cx"], q["cy"] + q["hair_len"], q["rx"] * 1.12),
                           _col(q["rx"] * 0.55) - np.abs(lw.X - _col(q["cx"])))
        part = sub[sel]
        paint(part, alpha(locks), hair_colour(lw, q))
        sub[sel] = part
    w.put(img, sub)

    # Ears, behind the head: the one on the side the face turns to slides behind it, the other stays
    for side in (-1.0, 1.0):
        far = np.clip(side * p["yaw"], 0, 1)
        ex = cx + side * (rx + 0.6 * s - far * 5.5 * s)
        w = Win(rows, ex - 4, cy - 6, 8, 13)
        sub = w.get(img)
        paint(sub, alpha(ellipse(w, ex, cy + 0.06 * ry, 2.8 * s * (1 - 0.5 * far), 4.2 * s)), p["skin"] * 0.93)
        w.put(img, sub)

    # Head, the far cheek a little darker
    w = Win(rows, cx - rx - 1.5, cy - ry - 1.5, 38, 42)
    sub = w.get(img)
    head_d, fx = head_shape(w, p)
    shade = 1.0 - 0.12 * np.clip(fx * _col(p["yaw"]), 0, 1)
    paint(sub, alpha(head_d), p["skin"][:, None, None, :] * shade[..., None])
    w.put(img, sub)

    # Forehead lines (age), drawn before the hair so that the hair covers their ends
    wr = np.clip((p["age"] - 0.4) * 2.2, 0, 1) * 0.42
    fore_x, fore_y = cx + 0.3 * rx * sphi, cy - p["hairline"] * ry + 2.5 * s
    w = Win(rows, fore_x - 8, fore_y - 1.5, 16, 9)
    sub = w.get(img)
    for k in range(3):
        y = fore_y + k * 2.2 * s
        d = segment(w, fore_x - 0.38 * rx, y, fore_x + 0.38 * rx, y, 0.45 * s)
        darken(sub, alpha(d), wr * (p["age"] > 0.5 + 0.12 * k))
    w.put(img, sub)

    # Front hair: inside a slightly larger head, above a hairline that drops towards the ears; only
    # sideburns (the outer fifth) come below the eyebrows
    w = Win(rows, cx - 1.07 * rx - 1, cy - 1.1 * ry - 1, 38, 28)
    sub = w.get(img)
    part = cx + 0.2 * rx * sphi
    u = (w.X - _col(part)) / _col(rx)
    hairline = _col(cy - p["hairline"] * ry) + _col(p["side_drop"] * ry) * u ** 2
    cap = np.where(np.abs(w.X - _col(cx)) > _col(0.8 * rx), _col(cy + 0.15 * ry), _col(cy - 0.22 * ry))
    front = np.maximum(ellipse(w, cx, cy - 0.03 * ry, rx * 1.07, ry * 1.05), w.Y - np.minimum(hairline, cap))
    paint(sub, alpha(front), hair_colour(w, p))
    w.put(img, sub)

    # Eyes at azimuth +-33 degrees on a turning head: shifted and foreshortened by the yaw; brows above,
    # lines under the eyes with age
    eyes = []
    brow_col = np.where(p["hair"][:, None] == 4, p["hair_rgb"], p["hair_rgb"] * 0.8)
    for side in (-1.0, 1.0):
        az = side * np.float32(np.deg2rad(33.0)) + phi
        ex, ey = cx + rx * 0.95 * np.sin(az), cy + p["eye_dy"] * ry
        fore = np.sqrt(np.clip(np.cos(az), 0.2, 1))
        eyes.append((ex, ey, fore))
        w = Win(rows, ex - 5, ey - 6, 10, 11)
        sub = w.get(img)
        paint(sub, alpha(ellipse(w, ex, ey, 2.7 * s * fore, 1.9 * s)), np.full((n, 3), 0.97, np.float32))
        paint(sub, alpha(ellipse(w, ex + 0.9 * s * sphi, ey + 0.1 * s, 1.4 * s * fore, 1.5 * s)), p["iris"])
        by, tilt = ey - 3.6 * s, p["brow_tilt"] * side * s
        d = segment(w, ex - 2.6 * s * fore, by + tilt, ex + 2.6 * s * fore, by - tilt, 0.85 * s)
        paint(sub, alpha(d), brow_col)
        d = segment(w, ex - 1.8 * s * fore, ey + 3.0 * s, ex + 1.8 * s * fore, ey + 3.0 * s, 0.45 * s)
        darken(sub, alpha(d), wr * 0.8)
        w.put(img, sub)

    # Lower face: nose (shifts furthest with yaw: it sticks out), lines to the mouth corners (age)
    mx, my = cx + 0.95 * rx * sphi, cy + 0.52 * ry
    nx = cx + 1.12 * rx * sphi
    lower = Win(rows, mx - 13, cy + 0.05 * ry - 1, 26, 18)
    sub = lower.get(img)
    tip = nx + 1.6 * s * np.sign(sphi) * np.sqrt(np.abs(p["yaw"]))
    paint(sub, alpha(segment(lower, nx, cy + 0.08 * ry, tip, cy + 0.3 * ry, 0.95 * s)), p["skin"] * 0.72)
    for side in (-1.0, 1.0):
        d = segment(lower, mx + side * 0.28 * rx, cy + 0.22 * ry, mx + side * 0.42 * rx, my + 0.06 * ry, 0.5 * s)
        darken(sub, alpha(d), wr)
    lower.put(img, sub)

    # Beard: the lower face below a line under the nose, reaching below the chin, hair-coloured (greys too)
    mw = rx * p["mouth_w"] * np.sqrt(np.cos(phi))
    sel = np.nonzero(p["beard"])[0]
    if len(sel):
        q = {k: v[sel] for k, v in p.items()}
        w = Win(sel, q["cx"] - 1.03 * q["rx"] - 1.5, q["cy"] + 0.1 * q["ry"], 40, 24)
        sub = w.get(img)
        col = q["hair_rgb"] * 0.85
        col = col + (GREY_RGB - col) * np.minimum(q["grey_share"] * 1.3, 1)[:, None]
        bd = np.maximum(head_shape(w, q, 1.03, q["beard_len"])[0], _col(q["cy"] + q["beard_top"] * q["ry"]) - w.Y)
        paint(sub, alpha(bd), col)
        # a skin patch for the lips, so that the mouth stays readable on a dark beard
        paint(sub, alpha(ellipse(w, mx[sel], my[sel] + 0.6 * q["s"], 0.55 * mw[sel] + 1.6, 4.6 * q["s"])),
              q["skin"] * 0.9)
        w.put(img, sub)

    # Mouth: a smile is a wide open half-moon with teeth; no smile is a short straight closed line
    sub = lower.get(img)
    smile = _col(p["smile"]) > 0
    top = my - 0.6 * s
    half = np.maximum(ellipse(lower, mx, top, 0.55 * mw, 5.0 * s), _col(top) - lower.Y)
    half = np.where(smile, half, np.float32(1e3))
    paint(sub, alpha(half + 0.5), np.tile(np.float32([[0.45, 0.08, 0.12]]), (n, 1)))
    teeth = np.maximum(half + 0.9, lower.Y - _col(top + 1.6 * s))
    paint(sub, alpha(teeth), np.full((n, 3), 0.98, np.float32))
    flat = segment(lower, mx - 0.3 * mw, my, mx + 0.3 * mw, my, 0.95 * s)
    flat = np.where(smile, np.float32(1e3), flat)
    paint(sub, alpha(flat), np.tile(np.float32([[0.42, 0.12, 0.14]]), (n, 1)))
    lower.put(img, sub)

    # Glasses: two rings (2.2 px strokes) around the eyes, a bridge, arms towards the ears
    sel = np.nonzero(p["glasses"])[0]
    if len(sel):
        q = {k: v[sel] for k, v in p.items()}
        ey = eyes[0][1][sel]
        w = Win(sel, q["cx"] - q["rx"] - 2, ey - 7, 38, 14)
        sub = w.get(img)
        rings = []
        for ex, _, fore in eyes:
            ex, rr = ex[sel], 4.1 * q["s"] * fore[sel]
            rings.append((ex, rr))
            lens = ellipse(w, ex, ey, rr, 3.6 * q["s"])
            paint(sub, alpha(lens) * 0.18, np.full((len(sel), 3), 0.85, np.float32))
            paint(sub, alpha(np.abs(lens) - 1.1), q["frame"])
        (lx, lr), (rx2, rr2) = rings
        paint(sub, alpha(segment(w, lx + lr, ey - 0.8, rx2 - rr2, ey - 0.8, 1.1)), q["frame"])
        for (ex, r), side in zip(rings, (-1.0, 1.0)):
            far = np.clip(side * q["yaw"], 0, 1)
            end = q["cx"] + side * (q["rx"] - far * 4 * q["s"])
            visible = _col(side * (end - ex - side * r) > 0)
            paint(sub, alpha(segment(w, ex + side * r, ey - 0.5, end, ey - 0.5, 0.8)) * visible, q["frame"])
        w.put(img, sub)

    # Hat: a crown over the top of the head, a band and a wide brim
    sel = np.nonzero(p["hat"])[0]
    if len(sel):
        q = {k: v[sel] for k, v in p.items()}
        brim_y = q["cy"] - q["hat_y"] * q["ry"]
        w = Win(sel, q["cx"] - 28, brim_y - q["hat_h"] * q["ry"] - 1.5, 56, 22)
        sub = w.get(img)
        crown = np.maximum(ellipse(w, q["cx"], brim_y, q["rx"] * 1.02, q["hat_h"] * q["ry"]), w.Y - _col(brim_y))
        paint(sub, alpha(crown), q["hat_col"])
        paint(sub, alpha(np.maximum(crown, _col(brim_y - 2.6 * q["s"]) - w.Y)), q["band_col"])
        paint(sub, alpha(ellipse(w, q["cx"], brim_y, q["rx"] * q["hat_brim"], 2.0 * q["s"])), q["hat_col"] * 0.8)
        w.put(img, sub)
    return img


# ----------------------------------------------------------------------------------------------
# Public API

ATTRIBUTES = ["smile", "glasses", "beard", "hat", "hair", "age", "yaw"]


def param_blocks(n, seed=0, start=0, balanced=False):
    """The parameter stream of images start .. start+n-1 of `seed`, block by block, as render() draws them:
    yields (lo, p, off, take), where rows off .. off+take-1 of the block's parameters p are images
    start+lo .. start+lo+take-1. balanced: the balanced stream (sample_params), never a natural image's twin."""
    i = start
    while i < start + n:
        block, off = divmod(i, BLOCK)
        stream = [seed, block, 1] if balanced else [seed, block]
        take = min(BLOCK - off, start + n - i)
        yield i - start, sample_params(BLOCK, np.random.default_rng(stream), balanced), off, take
        i += take


def empty_attributes(n):
    """Arrays [n] for each attribute, in the dtypes render() returns."""
    return {"smile": np.empty(n, np.uint8), "glasses": np.empty(n, np.uint8), "beard": np.empty(n, np.uint8),
            "hat": np.empty(n, np.uint8), "hair": np.empty(n, np.int64), "age": np.empty(n, np.float32),
            "yaw": np.empty(n, np.float32)}


def copy_attributes(attrs, lo, p, off, take):
    """Rows off .. off+take-1 of a block's parameters p into rows lo .. lo+take-1 of attrs (param_blocks' tuple)."""
    for k in ATTRIBUTES:
        attrs[k][lo:lo + take] = p[k][off:off + take]


def attributes(n, seed=0, start=0, balanced=False):
    """The attributes {name: array [n]} render(n, seed, start, balanced) gives, without drawing a face."""
    attrs = empty_attributes(n)
    for block in param_blocks(n, seed, start, balanced):
        copy_attributes(attrs, *block)
    return attrs


def render(n, seed=0, start=0, balanced=False):
    """Images [n, 64, 64, 3] uint8 and attributes {name: array [n]} for images start .. start+n-1 of `seed`.
    balanced: attributes drawn independently and evenly (sample_params), from a stream of their own."""
    images = np.empty((n, SIZE, SIZE, 3), np.uint8)
    attrs = empty_attributes(n)
    for lo, p, off, take in param_blocks(n, seed, start, balanced):
        for c in range(off, off + take, CHUNK):  # small chunks keep the float arrays in cache
            c1 = min(c + CHUNK, off + take)
            q = {k: v[c:c1] for k, v in p.items()}
            images[lo + c - off:lo + c1 - off] = (np.clip(draw(q), 0, 1) * 255 + 0.5).astype(np.uint8)
        copy_attributes(attrs, lo, p, off, take)
    return images, attrs


DARK_SKIN_BELOW = 0.46  # a skin tone (skin_tones) under this is "dark": the darkest ~30% of the faces drawn


def skin_tones(n, seed=0, start=0):
    """The mean of each face's skin colour (0..1, the renderer's nuisance, not an attribute) for images
    start .. start+n-1 of `seed` as render() draws them (the same parameter stream, nothing drawn)."""
    out = np.empty(n, np.float32)
    for lo, p, off, take in param_blocks(n, seed, start):
        out[lo:lo + take] = p["skin"][off:off + take].mean(1)
    return out


_SHARED = None  # the output images of render_many, in memory shared with the forked workers


def _render_part(part):
    count, seed, start, balanced = part
    images, attrs = render(count, seed, start, balanced)
    _SHARED[start:start + count] = images
    return attrs


def render_many(n, seed=0, workers=2, balanced=False):
    """render(n, seed, balanced=...) split over forked worker processes that write into shared memory (the
    same result: images depend only on (seed, index))."""
    global _SHARED
    if workers <= 1 or n < 2 * BLOCK:
        return render(n, seed, balanced=balanced)
    import mmap
    import multiprocessing
    buf = mmap.mmap(-1, n * SIZE * SIZE * 3)  # anonymous and shared: children's writes are seen here
    _SHARED = np.frombuffer(buf, np.uint8).reshape(n, SIZE, SIZE, 3)
    step = -(-n // (4 * workers * BLOCK)) * BLOCK  # whole blocks, a few parts per worker
    parts = [(min(step, n - a), seed, a, balanced) for a in range(0, n, step)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = pool.map(_render_part, parts)
    images, _SHARED = _SHARED.copy(), None
    buf.close()
    return images, {k: np.concatenate([d[k] for d in done]) for k in done[0]}


def label_matrix(attrs):
    """Attributes as LABEL_COLUMNS: binary 0/1, one-hot hair, continuous values ([n, 11] float32)."""
    n = len(attrs["age"])
    cols = [attrs[b].astype(np.float32) for b in BINARY]
    cols += [(attrs["hair"] == k).astype(np.float32) for k in range(len(HAIR_CLASSES))]
    cols += [attrs[c].astype(np.float32) for c in CONTINUOUS]
    return np.stack(cols, 1).reshape(n, len(LABEL_COLUMNS))


def rates(attrs):
    """Attribute frequencies: binary and class rates, continuous mean and spread."""
    out = {b: float(attrs[b].mean()) for b in BINARY}
    out["hair"] = {c: float((attrs["hair"] == k).mean()) for k, c in enumerate(HAIR_CLASSES)}
    for c in CONTINUOUS:
        v = attrs[c]
        out[c] = {"mean": float(v.mean()), "std": float(v.std()), "p05": float(np.quantile(v, 0.05)),
                  "p95": float(np.quantile(v, 0.95))}
    return out


def combination_rates(attrs, max_rate=0.01):
    """Rates of all 2- and 3-way AND combinations of attribute values; those under max_rate are the rare ones."""
    flags = {b: attrs[b] > 0 for b in BINARY}
    flags.update({f"hair={c}": attrs["hair"] == k for k, c in enumerate(HAIR_CLASSES)})
    flags["age>0.7"] = attrs["age"] > 0.7
    flags["age<0.2"] = attrs["age"] < 0.2
    names = list(flags)
    rare = {}
    for r in (2, 3):
        for combo in itertools.combinations(names, r):
            if sum(k.startswith("hair=") for k in combo) > 1 or sum(k.startswith("age") for k in combo) > 1:
                continue
            rate = float(np.logical_and.reduce([flags[k] for k in combo]).mean())
            if rate < max_rate:
                rare[" AND ".join(combo)] = rate
    return rare


def contact_sheet(images, cols=16):
    from PIL import Image
    n = len(images) // cols * cols
    grid = images[:n].reshape(n // cols, cols, SIZE, SIZE, 3).transpose(0, 2, 1, 3, 4)
    return Image.fromarray(grid.reshape(n // cols * SIZE, cols * SIZE, 3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sheet", help="write a contact sheet PNG of the first --rows x 16 images")
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--scale", type=int, default=2, help="upscale the sheet (nearest) for viewing")
    ap.add_argument("-n", type=int, default=100_000, help="images to measure rates and speed on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="also time rendering in this many processes")
    args = ap.parse_args()

    t0 = time.perf_counter()
    images, attrs = render(args.n, args.seed)
    dt = time.perf_counter() - t0
    print(f"rendered {args.n} images in {dt:.1f} s: {args.n / dt:.0f} images/s (one process)")
    if args.workers > 1:
        t0 = time.perf_counter()
        again, _ = render_many(args.n, args.seed, args.workers)
        dt = time.perf_counter() - t0
        assert np.array_equal(again, images), "parallel rendering must give the same images"
        print(f"rendered {args.n} images in {dt:.1f} s: {args.n / dt:.0f} images/s ({args.workers} processes)")
    print(json.dumps(rates(attrs), indent=1))
    rare = combination_rates(attrs)
    print(f"combinations under 1% of {args.n} images (2- and 3-way ANDs):")
    for k, v in sorted(rare.items(), key=lambda kv: kv[1]):
        if v > 0.001 or k.count("AND") == 2:
            print(f"  {k}: {100 * v:.2f}%")
    if args.sheet:
        sheet = contact_sheet(images[:args.rows * 16])
        if args.scale > 1:
            sheet = sheet.resize((sheet.width * args.scale, sheet.height * args.scale), 0)
        sheet.save(args.sheet)
        print("wrote", args.sheet)


if __name__ == "__main__":
    main()
