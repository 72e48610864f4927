//! One optimiser step, in fp32 or in mixed precision.
//!
//! On CUDA the forward pass runs under autocast (fp16 matrix products, fp32 softmax, norms and
//! losses). fp16 gradients of small magnitude flush to zero, so the loss is multiplied by a large
//! scale before the backward pass and the gradients are divided by it before the update; a step
//! whose gradients overflowed is skipped and the scale halved, and after a run of good steps the
//! scale is doubled again (dynamic loss scaling, as torch.amp.GradScaler does).

use tch::{nn, Device, Tensor};

use crate::model::precision::{self, Precision};

const INITIAL_SCALE: f64 = 65536.0;
const GROWTH_INTERVAL: usize = 2000;
const MIN_SCALE: f64 = 1.0;

pub struct Stepper {
    mixed: bool,
    scale: f64,
    good_steps: usize,
    /// Steps whose gradients were not finite and were therefore not applied.
    pub skipped: usize,
    vars: Vec<Tensor>,
    device: Device,
}

impl Stepper {
    /// `mixed` turns on autocast and loss scaling; without it the scale stays 1.
    pub fn new(vs: &nn::VarStore, mixed: bool) -> Stepper {
        Stepper { mixed, scale: if mixed { INITIAL_SCALE } else { 1.0 }, good_steps: 0, skipped: 0, vars: vs.trainable_variables(), device: vs.device() }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Runs `forward` (which returns the loss) under autocast when mixed precision is on for a
    /// CUDA device, and without entering autocast at all otherwise. (On a CPU mixed precision is
    /// loss scaling alone: what the tests compare with fp32 training.)
    pub fn forward<F: FnOnce() -> Tensor>(&self, forward: F) -> Tensor {
        let p = if self.mixed && self.device.is_cuda() { Precision::Half } else { Precision::Fp32 };
        precision::autocast(self.device, p, forward)
    }

    /// Backward pass of `loss`, gradients clipped to `max_norm` (L2 over all parameters), then an
    /// optimiser step unless the gradients are not finite. Returns whether the step was applied.
    pub fn step(&mut self, opt: &mut nn::Optimizer, loss: &Tensor, max_norm: f64) -> bool {
        opt.zero_grad();
        if self.scale == 1.0 {
            loss.backward()
        } else {
            (loss * self.scale).backward()
        }
        let total = tch::no_grad(|| {
            let norms: Vec<Tensor> = self.vars.iter().map(|v| v.grad()).filter(|g| g.defined()).map(|g| g.norm()).collect();
            if norms.is_empty() {
                return 0.0;
            }
            f64::try_from(Tensor::stack(&norms, 0).norm()).unwrap_or(f64::NAN)
        }) / self.scale;
        if !total.is_finite() {
            self.skipped += 1;
            opt.zero_grad();
            if self.mixed {
                self.scale = (self.scale / 2.0).max(MIN_SCALE);
                self.good_steps = 0;
            }
            return false;
        }
        // Unscaling and clipping are one multiplication.
        let coef = (1.0 / self.scale) * (max_norm / (total + 1e-6)).min(1.0);
        if coef != 1.0 {
            tch::no_grad(|| {
                for v in &self.vars {
                    let mut g = v.grad();
                    if g.defined() {
                        let _ = g.g_mul_scalar_(coef);
                    }
                }
            });
        }
        opt.step();
        if self.mixed {
            self.good_steps += 1;
            if self.good_steps == GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::OptimizerConfig;
    use tch::{Device, Kind};

    fn setup() -> (nn::VarStore, Tensor, nn::Optimizer) {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(1.0));
        let opt = nn::Sgd::default().build(&vs, 0.1).unwrap();
        (vs, w, opt)
    }

    #[test]
    fn scaled_step_equals_the_unscaled_one() {
        let (vs, w, mut opt) = setup();
        let mut plain = Stepper::new(&vs, false);
        let loss = (&w * &w).sum(Kind::Float);
        assert!(plain.step(&mut opt, &loss, 100.0));
        let after_plain = Vec::<f32>::try_from(&w).unwrap();

        let (vs2, w2, mut opt2) = setup();
        let mut mixed = Stepper::new(&vs2, true);
        let loss2 = (&w2 * &w2).sum(Kind::Float);
        assert!(mixed.step(&mut opt2, &loss2, 100.0));
        let after_mixed = Vec::<f32>::try_from(&w2).unwrap();
        // d/dw sum(w^2) = 2w = 2; w - 0.1 * 2 = 0.8, whatever the loss scale was.
        for (a, b) in after_plain.iter().zip(&after_mixed) {
            assert!((a - 0.8).abs() < 1e-6 && (b - 0.8).abs() < 1e-6, "{after_plain:?} {after_mixed:?}");
        }
    }

    #[test]
    fn clipping_bounds_the_update() {
        let (vs, w, mut opt) = setup();
        let mut s = Stepper::new(&vs, true);
        let loss = (&w * 1000.0).sum(Kind::Float);
        assert!(s.step(&mut opt, &loss, 1.0));
        // Gradient (1000, 1000, 1000) clipped to norm 1: each component 1/sqrt(3).
        let after = Vec::<f32>::try_from(&w).unwrap();
        let expected = 1.0 - 0.1 / 3f32.sqrt();
        assert!(after.iter().all(|a| (a - expected).abs() < 1e-5), "{after:?}");
    }

    #[test]
    fn overflow_skips_the_step_and_halves_the_scale() {
        let (vs, w, mut opt) = setup();
        let mut s = Stepper::new(&vs, true);
        let before = s.scale();
        let loss = (&w * f64::INFINITY).sum(Kind::Float);
        assert!(!s.step(&mut opt, &loss, 1.0));
        assert_eq!(Vec::<f32>::try_from(&w).unwrap(), vec![1.0, 1.0, 1.0]);
        assert_eq!(s.skipped, 1);
        assert_eq!(s.scale(), before / 2.0);
        // The next finite step goes through at the smaller scale.
        let loss = (&w * &w).sum(Kind::Float);
        assert!(s.step(&mut opt, &loss, 100.0));
        assert!(Vec::<f32>::try_from(&w).unwrap().iter().all(|a| (a - 0.8).abs() < 1e-6));
    }

    #[test]
    fn scale_grows_after_a_run_of_good_steps() {
        let (vs, w, mut opt) = setup();
        let mut s = Stepper::new(&vs, true);
        let start = s.scale();
        for _ in 0..GROWTH_INTERVAL {
            let loss = (&w * 1e-3).sum(Kind::Float);
            assert!(s.step(&mut opt, &loss, 1.0));
        }
        assert_eq!(s.scale(), start * 2.0);
    }
}
