// Package static embeds Hitch's browser assets (stylesheet, app logos and the
// built SDK) so the binary serves them with no files beside it.
package static

import "embed"

// FS holds sdk/, logos/ and css/.
//
//go:embed sdk logos css
var FS embed.FS
