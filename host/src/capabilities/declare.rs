//! The `declare_units!` macro: from one list of units, what the host needs to grant,
//! build and link them: [`Grants`](super::Grants) and its methods, [`NAMES`](super::NAMES),
//! the interfaces each capability owns, [`Shared`](super::Shared),
//! [`CapabilityStates`](super::CapabilityStates) and [`add_to_linker`](super::add_to_linker).
//!
//! It is invoked once, in `capabilities/mod.rs`. Units in `given` are linked into every
//! execution and granted nothing; units in `granted` are the capabilities. A capability may
//! carry `#[cfg(feature = "NAME")]`: without the feature it is left out of the build (its
//! imports are not linked, and [`LEFT_OUT`](super::LEFT_OUT) names it).

/// Generates the items listed in the module doc from the list of units.
macro_rules! declare_units {
    (
        given: { $( $given:ident : $given_unit:ty ),* $(,)? }
        granted: { $( $(#[cfg($cfg:meta)])? $name:ident : $unit:ty ),* $(,)? }
    ) => {
        // A unit's name is its field's and its module's: `--allow NAME=…` finds the field.
        $(
            const _: () = assert!(
                $crate::capabilities::unit::same_name(
                    <$given_unit as Capability>::NAME,
                    stringify!($given)
                ),
                concat!("the unit declared as `", stringify!($given), "` has another NAME"),
            );
        )*
        $(
            $(#[cfg($cfg)])?
            const _: () = assert!(
                $crate::capabilities::unit::same_name(<$unit as Capability>::NAME, stringify!($name)),
                concat!("the capability declared as `", stringify!($name), "` has another NAME"),
            );
        )*

        /// What one execution may do: one policy per capability. The default grants
        /// nothing.
        #[derive(Clone, Debug, Default)]
        pub struct Grants {
            $(
                $(#[cfg($cfg)])?
                #[doc = concat!("The grant of `", stringify!($name), "`: see [`", stringify!($unit), "`].")]
                pub $name: <$unit as Capability>::Policy,
            )*
        }

        /// The capabilities' names, as `--allow CAPABILITY=PATTERN` spells them.
        pub const NAMES: &[&str] = &[ $( $(#[cfg($cfg)])? <$unit as Capability>::NAME, )* ];

        /// Every unit of this build, given and granted, by name.
        #[cfg(test)]
        const UNITS: &[&str] = &[
            $( stringify!($given), )*
            $( $(#[cfg($cfg)])? stringify!($name), )*
        ];

        /// The capabilities this build leaves out (their cargo feature is off); each owns
        /// the interface `sandcron:executor/NAME`.
        pub const LEFT_OUT: &[&str] = &[ $( $(#[cfg(not($cfg))] stringify!($name),)? )* ];

        /// Each capability's name and the prefixes of the imports it serves.
        const INTERFACES: &[(&str, &[&str])] = &[
            $( $(#[cfg($cfg)])? (<$unit as Capability>::NAME, <$unit as Capability>::INTERFACES), )*
        ];

        impl Grants {
            /// Widens the grant of `capability` by one pattern, in that capability's
            /// syntax. The error names the capability and what is wrong with the pattern.
            pub fn allow(&mut self, capability: &str, pattern: &str) -> Result<(), String> {
                $(
                    $(#[cfg($cfg)])?
                    if capability == <$unit as Capability>::NAME {
                        return self.$name.allow_pattern(pattern);
                    }
                )*
                Err(unknown_capability(capability, true))
            }

            /// Whether the grant allows nothing at all of `capability` (every call will be
            /// denied).
            pub fn denies_all(&self, capability: &str) -> bool {
                $(
                    $(#[cfg($cfg)])?
                    if capability == <$unit as Capability>::NAME {
                        return self.$name.denies_all();
                    }
                )*
                true
            }

            /// Narrows the grant to what `narrower` allows too, capability by capability:
            /// a call must pass both (each policy says how: see [`Policy::narrow_to`]).
            pub fn narrow(&mut self, narrower: &Grants) {
                $( $(#[cfg($cfg)])? self.$name.narrow_to(&narrower.$name); )*
            }
        }

        /// State shared by every execution of a process: each unit's clients,
        /// connection pools and background work. Built once by the runtime.
        #[derive(Clone, Debug, Default)]
        pub struct Shared {
            $( $given: <$given_unit as Capability>::Shared, )*
            $( $(#[cfg($cfg)])? $name: <$unit as Capability>::Shared, )*
        }

        impl Shared {
            /// Waits up to `within` for the work units left running in the background
            /// (removing the container of a run that was dropped, sending `http-cleanup`
            /// requests). Call it before the process exits.
            pub async fn settle(&self, within: std::time::Duration) {
                type Settling<'a> =
                    std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;
                let settling = [
                    $( Box::pin(self.$given.settle(within)) as Settling<'_>, )*
                    $( $(#[cfg($cfg)])? (Box::pin(self.$name.settle(within)) as Settling<'_>), )*
                ];
                futures::future::join_all(settling).await;
            }
        }

        /// The per-execution state of every unit, and the resource table the interfaces
        /// share.
        pub struct CapabilityStates {
            table: wasmtime::component::ResourceTable,
            $( $given: <$given_unit as Capability>::State, )*
            $( $(#[cfg($cfg)])? $name: <$unit as Capability>::State, )*
        }

        impl CapabilityStates {
            /// Fresh state for one execution that may do what `grants` allow, reusing the
            /// process-wide `shared` state, its resources kept in `table`.
            pub fn new(
                grants: &Grants,
                sink: &OutputSink,
                shared: &Shared,
                table: wasmtime::component::ResourceTable,
            ) -> Self {
                Self {
                    table,
                    $( $given: <$given_unit as Capability>::new_state(&(), sink, &shared.$given), )*
                    $(
                        $(#[cfg($cfg)])?
                        $name: <$unit as Capability>::new_state(&grants.$name, sink, &shared.$name),
                    )*
                }
            }
        }

        $(
            impl<T: CapabilityView> Holds<$given_unit> for T {
                fn state(&mut self) -> &mut <$given_unit as Capability>::State {
                    &mut self.capabilities().$given
                }
            }
        )*
        $(
            $(#[cfg($cfg)])?
            impl<T: CapabilityView> Holds<$unit> for T {
                fn state(&mut self) -> &mut <$unit as Capability>::State {
                    &mut self.capabilities().$name
                }
            }
        )*

        /// Adds every unit's interfaces to `linker`.
        pub fn add_to_linker<T: CapabilityView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
            $( <$given_unit as Capability>::add_to_linker(linker)?; )*
            $( $(#[cfg($cfg)])? <$unit as Capability>::add_to_linker(linker)?; )*
            Ok(())
        }
    };
}

pub(super) use declare_units;
