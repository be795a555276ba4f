use crate::api::error_text;
use crate::api::people::{load_people, CancelInvitation, Invite, UpdatePerson};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

/// Admins invite people, change roles and deactivate accounts.
#[component]
pub fn PeoplePage() -> impl IntoView {
    let invite = ServerAction::<Invite>::new();
    let update = ServerAction::<UpdatePerson>::new();
    let cancel = ServerAction::<CancelInvitation>::new();
    let data = Resource::new(
        move || {
            (
                invite.version().get(),
                update.version().get(),
                cancel.version().get(),
            )
        },
        |_| load_people(),
    );
    let sent = move || match invite.value().get() {
        Some(Ok(sent)) => Some(view! {
            <div class="alert alert-ok" role="status" data-testid="invite-result">
                <p>{format!("Invitation for {} created. ", sent.email)}{sent.note.clone()}</p>
                {sent.link.clone().map(|link| view! {
                    <p><label>"Invitation link"<input type="text" readonly class="mono" data-testid="invite-link" value=link/></label></p>
                })}
            </div>
        }),
        _ => None,
    };
    let role_options = |current: Role| {
        Role::ALL.iter().map(move |r| view! { <option value=r.as_str() selected=*r == current>{r.label()}</option> }).collect_view()
    };

    view! {
        <Title text="People"/>
        <AppLayout>
            <h1>"People"</h1>
            <section class="panel" aria-labelledby="invite-h">
                <h2 id="invite-h">"Invite someone"</h2>
                <ActionForm action=invite attr:class="inline-form">
                    <label>"Email"<input type="email" name="email" required/></label>
                    <label>"Role"<select name="role">{role_options(Role::Engineer)}</select></label>
                    <button type="submit" class="button primary" disabled=move || invite.pending().get()>"Send invitation"</button>
                </ActionForm>
                {action_error(invite.value())}
                {sent}
            </section>
            {action_error(update.value())}
            <Transition fallback=|| view! { <p>"Loading people…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(p) => {
                            let me = p.me;
                            let rows = p.users.into_iter().map(|u| {
                                let id = u.id;
                                let active = u.active;
                                let role = u.role;
                                view! {
                                    <tr class:inactive=!active>
                                        <td>{u.name.clone()}{(id == me).then_some(" (you)")}</td>
                                        <td>{u.email.clone()}</td>
                                        <td>
                                            <select aria-label=format!("Role of {}", u.email)
                                                on:change=move |ev| { update.dispatch(UpdatePerson { id, role: event_target_value(&ev), active }); }>
                                                {role_options(role)}
                                            </select>
                                        </td>
                                        <td>{if active { "Active" } else { "Deactivated" }}</td>
                                        <td>
                                            <button type="button" class="button small"
                                                on:click=move |_| { update.dispatch(UpdatePerson { id, role: role.as_str().into(), active: !active }); }>
                                                {if active { "Deactivate" } else { "Reactivate" }}
                                            </button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view();
                            let pending: Vec<Invitation> = p.invitations.into_iter().filter(|i| i.accepted_at.is_none()).collect();
                            let invitations = pending.iter().map(|i| {
                                let id = i.id;
                                view! {
                                    <tr>
                                        <td>{i.email.clone()}</td>
                                        <td>{i.role.label()}</td>
                                        <td>{when(&i.expires_at)}</td>
                                        <td><button type="button" class="button small" on:click=move |_| { cancel.dispatch(CancelInvitation { id }); }>"Cancel"</button></td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                {p.mail_note.map(|n| view! { <p class="alert alert-info">{n}</p> })}
                                <table class="table">
                                    <caption>"Accounts"</caption>
                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                {(!pending.is_empty()).then(|| view! {
                                    <table class="table">
                                        <caption>"Pending invitations"</caption>
                                        <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Expires"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                        <tbody>{invitations}</tbody>
                                    </table>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
