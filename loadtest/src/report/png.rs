//! SVG bytes to a PNG file: the plots as pictures for the places that show
//! no SVG (chat, issue trackers, slides). It rasterises the very SVG the
//! harness wrote, with resvg, so the two files never disagree; it never
//! draws a plot itself.
//!
//! It owns how the picture is made: twice the SVG's size (crisp on
//! high-DPI screens), a white background, and the fonts. The plots ask for
//! `sans-serif`, which fontdb maps to Arial unless told otherwise; here it
//! is told the first family of [`SANS_SERIF_PREFERRED`] that the system
//! has (any installed family, failing those). With no font at all the
//! PNG is still written, without its text, and one warning line says so:
//! a run is never failed for a font.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};

/// Pixels of the PNG per pixel of the SVG.
pub const PNG_SCALE: u32 = 2;

/// Families that `sans-serif` (and the serif fallback) resolve to, the
/// first one installed: what Debian, Fedora and most Linux images ship.
pub const SANS_SERIF_PREFERRED: [&str; 5] = [
    "DejaVu Sans",
    "Liberation Sans",
    "Noto Sans",
    "Arial",
    "Helvetica",
];

/// The system's fonts, loaded once per process, with the family that
/// `sans-serif` resolves to (`None`: no font was found).
pub struct Fonts {
    database: Arc<fontdb::Database>,
    sans_serif: Option<String>,
}

impl Fonts {
    /// The system's fonts (fontconfig's directories, else
    /// /usr/share/fonts and the user's), loaded on first use. The first
    /// use without any font prints the warning line.
    pub fn system() -> &'static Fonts {
        static SYSTEM: OnceLock<Fonts> = OnceLock::new();
        SYSTEM.get_or_init(|| {
            let mut database = fontdb::Database::new();
            database.load_system_fonts();
            let fonts = Fonts::from_database(database);
            if fonts.sans_serif.is_none() {
                eprintln!(
                    "warning: no font found on this system (fontconfig's directories, \
                     /usr/share/fonts): PNG plots are written without text; the SVGs have it"
                );
            }
            fonts
        })
    }

    /// `database`, with `sans-serif` and `serif` resolving to a family it
    /// holds.
    pub fn from_database(mut database: fontdb::Database) -> Fonts {
        let installed: Vec<&str> = database
            .faces()
            .flat_map(|face| face.families.iter().map(|(name, _)| name.as_str()))
            .collect();
        let sans_serif = SANS_SERIF_PREFERRED
            .iter()
            .copied()
            .find(|preferred| installed.contains(preferred))
            .or_else(|| installed.iter().copied().min())
            .map(str::to_string);
        if let Some(family) = &sans_serif {
            database.set_sans_serif_family(family.as_str());
            // usvg falls back to serif when no family the SVG names is found.
            database.set_serif_family(family.as_str());
        }
        Fonts {
            database: Arc::new(database),
            sans_serif,
        }
    }

    /// The family `sans-serif` resolves to; `None` when there is no font.
    pub fn sans_serif(&self) -> Option<&str> {
        self.sans_serif.as_deref()
    }
}

/// `svg` rasterised and encoded as PNG, at [`PNG_SCALE`] times its size, on
/// white.
pub fn render_png(svg: &str, fonts: &Fonts) -> io::Result<Vec<u8>> {
    let options = usvg::Options {
        fontdb: Arc::clone(&fonts.database),
        font_family: fonts.sans_serif.clone().unwrap_or_default(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("parsing the SVG: {e}")))?;
    let size = tree.size().to_int_size();
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}x{} px at {PNG_SCALE}x is too large for a picture",
                size.width(),
                size.height()
            ),
        )
    };
    let (width, height) = (
        size.width().checked_mul(PNG_SCALE).ok_or_else(too_large)?,
        size.height().checked_mul(PNG_SCALE).ok_or_else(too_large)?,
    );
    let mut pixmap = tiny_skia::Pixmap::new(width, height).ok_or_else(too_large)?;
    pixmap.fill(tiny_skia::Color::WHITE);
    let scale = PNG_SCALE as f32;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| io::Error::other(format!("encoding the PNG: {e}")))
}

/// Writes `svg` as a PNG to `path`, with the system's fonts. Errors name
/// the file.
pub fn write_png(svg: &str, path: &Path) -> io::Result<()> {
    let png = render_png(svg, Fonts::system())
        .map_err(|e| io::Error::new(e.kind(), format!("rendering {}: {e}", path.display())))?;
    fs::write(path, png)
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plot::{footer_lines, latency_svg, LATENCY_SVG_SIZE};
    use crate::report::tests::run_like;

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    fn plot_svg() -> String {
        let (summary, produce_ack, e2e) = run_like();
        let distributions = [("produce ack", &produce_ack), ("end-to-end", &e2e)];
        latency_svg(&distributions, &footer_lines(&summary)).unwrap()
    }

    /// `svg` without its `<text>` elements.
    fn without_text(svg: &str) -> String {
        let mut kept = String::with_capacity(svg.len());
        let mut rest = svg;
        while let Some(start) = rest.find("<text") {
            kept.push_str(&rest[..start]);
            let end = rest[start..].find("</text>").expect("a closed <text>");
            rest = &rest[start + end + "</text>".len()..];
        }
        kept.push_str(rest);
        kept
    }

    fn decode(png: &[u8]) -> tiny_skia::Pixmap {
        assert_eq!(png[..8], PNG_SIGNATURE);
        tiny_skia::Pixmap::decode_png(png).unwrap()
    }

    fn non_white_pixels(pixmap: &tiny_skia::Pixmap) -> usize {
        pixmap
            .pixels()
            .iter()
            .filter(|p| (p.red(), p.green(), p.blue(), p.alpha()) != (255, 255, 255, 255))
            .count()
    }

    #[test]
    fn a_plot_renders_at_twice_its_size_on_white_with_its_text() {
        let svg = plot_svg();
        let fonts = Fonts::system();
        let png = render_png(&svg, fonts).unwrap();
        let pixmap = decode(&png);
        assert_eq!(
            (pixmap.width(), pixmap.height()),
            (
                LATENCY_SVG_SIZE.0 * PNG_SCALE,
                LATENCY_SVG_SIZE.1 * PNG_SCALE
            )
        );
        // Opaque: the corner is the background, white.
        let corner = pixmap.pixel(0, 0).unwrap();
        assert_eq!(
            (corner.red(), corner.green(), corner.blue(), corner.alpha()),
            (255, 255, 255, 255)
        );
        let drawn = non_white_pixels(&pixmap);
        assert!(drawn > 10_000, "{drawn} non-white pixels");

        let stripped = decode(&render_png(&without_text(&svg), fonts).unwrap());
        match fonts.sans_serif() {
            Some(family) => {
                assert_ne!(pixmap.data(), stripped.data(), "no text drawn in {family}");
                assert!(non_white_pixels(&stripped) < drawn);
            }
            None => eprintln!("no system font: the text is not checked"),
        }
    }

    #[test]
    fn without_any_font_the_picture_is_still_made_without_text() {
        let fonts = Fonts::from_database(fontdb::Database::new());
        assert_eq!(fonts.sans_serif(), None);
        let svg = plot_svg();
        let png = render_png(&svg, &fonts).unwrap();
        let stripped = render_png(&without_text(&svg), &fonts).unwrap();
        assert_eq!(png, stripped);
        assert!(non_white_pixels(&decode(&png)) > 10_000);
    }

    #[test]
    fn sans_serif_is_a_family_the_system_has() {
        let fonts = Fonts::system();
        if let Some(family) = fonts.sans_serif() {
            let database = &fonts.database;
            assert_eq!(database.family_name(&fontdb::Family::SansSerif), family);
            assert!(database
                .faces()
                .any(|face| face.families.iter().any(|(name, _)| name == family)));
        }
    }

    #[test]
    fn errors_name_the_file() {
        let scratch = tempfile::tempdir().unwrap();
        let path = scratch.path().join("bad.png");
        let error = write_png("not an svg", &path).unwrap_err();
        assert!(error.to_string().contains("bad.png"), "{error}");
        let missing = scratch.path().join("no-such-dir").join("plot.png");
        let error = write_png(&plot_svg(), &missing).unwrap_err();
        assert!(error.to_string().contains("no-such-dir"), "{error}");
        assert!(!path.exists());
    }
}
