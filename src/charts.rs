//! Charts drawn with plotters (SVG): the team reports' bars, and the lines of shares (back-test,
//! months, reliability, replay). Text is left to the SVG
//! viewer (plotters' SVG backend writes <text>), so no font is needed on the machine.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// Series colours, in order: blue, orange, green, red, grey.
const COLOURS: [RGBColor; 5] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(127, 127, 127)];

/// The palette's red and grey, for callers that pick a colour by meaning.
pub const RED: usize = 3;
pub const GREY: usize = 4;

/// Axis titles and the category labels of a chart.
pub struct Axes<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    /// One label per category (x position).
    pub labels: &'a [String],
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the chart: {e:?}")
}

/// Grouped bars: each series one bar per category, side by side, with a legend.
pub fn bars(axes: &Axes<'_>, series: &[(&str, Vec<f64>)]) -> Result<String> {
    let n = axes.labels.len().max(1);
    let top = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0f64, f64::max).max(1.0) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(axes.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)
            .map_err(plot_error)?;
        let labels = axes.labels;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(axes.x)
            .y_desc(axes.y)
            .x_labels(n.min(16))
            .x_label_formatter(&|x| labels.get(x.floor() as usize).cloned().unwrap_or_default())
            .draw()
            .map_err(plot_error)?;
        let k = series.len().max(1) as f64;
        for (s, (name, values)) in series.iter().enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let left = |i: usize| i as f64 + 0.1 + 0.8 * s as f64 / k;
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| Rectangle::new([(left(i), 0.0), (left(i) + 0.8 / k, *v)], colour.filled())))
                .map_err(plot_error)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw().map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// One line of an x-y chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Index into the palette.
    pub colour: usize,
    pub dashed: bool,
    /// A dot at each point (few points, each a bin).
    pub dots: bool,
}

/// An x-y chart of shares (0..1 on y; on x too unless `x_labels` names categories 0, 1, ...).
pub struct Xy<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    /// Categories at x = 0, 1, ... (months, tenths); None: x is a share shown in percent.
    pub x_labels: Option<&'a [String]>,
    /// The diagonal y = x (a reliability diagram's perfect calibration).
    pub diagonal: bool,
    /// A shaded band (x, low, high), e.g. a confidence interval.
    pub band: Vec<(f64, f64, f64)>,
}

fn percent(v: &f64) -> String {
    format!("{:.0}%", 100.0 * v)
}

/// Lines of shares over a share or over categories, with a legend.
pub fn xy(c: &Xy<'_>, series: &[Series]) -> Result<String> {
    let x_max = c.x_labels.map_or(1.0, |l| (l.len().max(2) - 1) as f64);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(c.title, ("sans-serif", 17))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, 0f64..1f64)
            .map_err(plot_error)?;
        let labels = c.x_labels;
        let x_fmt = move |x: &f64| match labels {
            Some(l) => {
                let i = x.round();
                if (x - i).abs() < 1e-6 {
                    l.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
            None => percent(x),
        };
        chart
            .configure_mesh()
            .x_desc(c.x)
            .y_desc(c.y)
            .x_labels(labels.map_or(11, |l| l.len().min(13)))
            .y_labels(11)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&percent)
            .draw()
            .map_err(plot_error)?;
        if !c.band.is_empty() {
            let mut outline: Vec<(f64, f64)> = c.band.iter().map(|&(x, _, hi)| (x, hi)).collect();
            outline.extend(c.band.iter().rev().map(|&(x, lo, _)| (x, lo)));
            chart.draw_series(std::iter::once(Polygon::new(outline, COLOURS[3].mix(0.15).filled()))).map_err(plot_error)?;
        }
        if c.diagonal {
            chart
                .draw_series(DashedLineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], 4, 3, RGBColor(136, 136, 136).stroke_width(1)))
                .map_err(plot_error)?
                .label("perfect calibration")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(136, 136, 136)));
        }
        for s in series {
            let colour = COLOURS[s.colour % COLOURS.len()];
            let style = colour.stroke_width(2);
            let drawn = if s.dashed {
                chart.draw_series(DashedLineSeries::new(s.points.clone(), 6, 4, style)).map_err(plot_error)?
            } else {
                chart.draw_series(LineSeries::new(s.points.clone(), style)).map_err(plot_error)?
            };
            drawn.label(s.name.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
            if s.dots {
                chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(plot_error)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_lines_are_svg_with_their_labels_and_legend() {
        let labels = vec!["alice".to_string(), "bob".to_string()];
        let axes = Axes { title: "Work per person", x: "person", y: "items", labels: &labels };
        let svg = bars(&axes, &[("coded", vec![3.0, 0.0]), ("reviewed", vec![0.0, 4.0])]).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("Work per person") && svg.contains("alice") && svg.contains("reviewed"), "{svg}");
        let xy_svg = xy(
            &Xy { title: "Reliability", x: "confidence", y: "share right", x_labels: None, diagonal: true, band: vec![(0.0, 0.1, 0.3), (1.0, 0.8, 0.9)] },
            &[Series { name: "PT (ECE 0.020)".into(), points: vec![(0.1, 0.2), (0.9, 0.85)], colour: 0, dashed: false, dots: true }],
        )
        .unwrap();
        assert!(
            xy_svg.contains("PT (ECE 0.020)") && xy_svg.contains("perfect calibration") && xy_svg.contains("<polyline") && xy_svg.contains("50%"),
            "{xy_svg}"
        );
    }
}
