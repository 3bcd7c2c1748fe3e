package web

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
)

// Icon is the neutral favicon (PNG, 32×32: a slate disc with a light centre) of pages whose
// tenant has no logo, and of the dashboard before sign-in.
var Icon = func() []byte {
	const n = 32
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	slate := color.NRGBA{0x33, 0x41, 0x55, 0xff}
	light := color.NRGBA{0xe2, 0xe8, 0xf0, 0xff}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			// Distances from the centre in half pixels, so the disc is symmetric.
			dx, dy := 2*x+1-n, 2*y+1-n
			switch d := dx*dx + dy*dy; {
			case d < 12*12:
				img.Set(x, y, light)
			case d < 31*31:
				img.Set(x, y, slate)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("web: encoding the icon: " + err.Error())
	}
	return b.Bytes()
}()
